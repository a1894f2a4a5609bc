package dev.l4lb.core.config;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import dev.l4lb.core.model.Service;

/** What a reload reports as changed, from two configs written as users write them. */
class ConfigDiffTest {
    private static final String WEB_PORT = "test/web:http/TCP";

    @Test
    void servicesAddedAndRemovedAreNamedAndTheirPortsAreNotListedAgain() throws Exception {
        List<Service> before = services("""
                services:
                  - name: test/a
                    ports: [{name: p, listen: ["127.0.0.1:8001"], endpoints: ["10.0.0.1:80"]}]
                  - name: test/b
                    ports: [{name: p, listen: ["127.0.0.1:8002"], endpoints: ["10.0.0.2:80"]}]
                """);
        List<Service> after = services("""
                services:
                  - name: test/b
                    ports: [{name: p, listen: ["127.0.0.1:8002"], endpoints: ["10.0.0.2:80"]}]
                  - name: c
                    ports: [{name: p, listen: ["127.0.0.1:8003"], endpoints: ["10.0.0.3:80"]}]
                """);

        ConfigDiff diff = ConfigDiff.between(before, after);

        assertThat(diff.servicesAdded()).containsExactly("default/c");
        assertThat(diff.servicesRemoved()).containsExactly("test/a");
        // A whole service coming or going is one change, not also its ports and endpoints.
        assertThat(diff.portsAdded()).isEmpty();
        assertThat(diff.portsRemoved()).isEmpty();
        assertThat(diff.portsChanged()).isEmpty();
        assertThat(diff.endpointsAdded()).isEmpty();
        assertThat(diff.endpointsRemoved()).isEmpty();
        assertThat(diff.endpointsChanged()).isEmpty();
        assertThat(diff.isEmpty()).isFalse();
        assertThat(diff.summary()).isEqualTo("1 service(s) added, 1 service(s) removed");
    }

    @Test
    void anUnnamedPortIsNamedByItsServiceAndProtocol() throws Exception {
        List<Service> before = services("""
                services:
                  - name: test/web
                    ports: [{listen: ["127.0.0.1:8080"], endpoints: ["10.0.0.1:80"]}]
                """);
        List<Service> after = services("""
                services:
                  - name: test/web
                    ports: [{listen: ["127.0.0.1:8080"], endpoints: ["10.0.0.2:80"]}]
                """);

        ConfigDiff diff = ConfigDiff.between(before, after);

        assertThat(diff.endpointsAdded()).containsExactly("test/web/TCP 10.0.0.2:80");
        assertThat(diff.endpointsRemoved()).containsExactly("test/web/TCP 10.0.0.1:80");
    }

    @Test
    void portsAddedAndRemovedOfAServiceThatStays() throws Exception {
        List<Service> before = services("""
                services:
                  - name: test/web
                    ports:
                      - {name: http, listen: ["127.0.0.1:8080"], endpoints: ["10.0.0.1:80"]}
                      - {name: grpc, listen: ["127.0.0.1:9090"], endpoints: ["10.0.0.1:90"]}
                """);
        List<Service> after = services("""
                services:
                  - name: test/web
                    ports:
                      - {name: http, listen: ["127.0.0.1:8080"], endpoints: ["10.0.0.1:80"]}
                      - {name: admin, listen: ["127.0.0.1:9091"], endpoints: ["10.0.0.1:91"]}
                      - {name: metrics, listen: ["127.0.0.1:9092"], endpoints: ["10.0.0.1:92"]}
                """);

        ConfigDiff diff = ConfigDiff.between(before, after);

        assertThat(diff.portsAdded()).containsExactly("test/web:admin/TCP", "test/web:metrics/TCP");
        assertThat(diff.portsRemoved()).containsExactly("test/web:grpc/TCP");
        assertThat(diff.portsChanged()).isEmpty();
        assertThat(diff.servicesAdded()).isEmpty();
        assertThat(diff.servicesRemoved()).isEmpty();
        assertThat(diff.endpointsAdded()).isEmpty();
        assertThat(diff.endpointsRemoved()).isEmpty();
        assertThat(diff.summary()).isEqualTo("2 port(s) added, 1 port(s) removed");
    }

    @Test
    void aRenamedPortIsOneRemovedAndOneAdded() throws Exception {
        List<Service> before = web("name: http", "endpoints: [\"10.0.0.1:80\"]");
        List<Service> after = web("name: web", "endpoints: [\"10.0.0.1:80\"]");

        ConfigDiff diff = ConfigDiff.between(before, after);

        assertThat(diff.portsRemoved()).containsExactly(WEB_PORT);
        assertThat(diff.portsAdded()).containsExactly("test/web:web/TCP");
        assertThat(diff.portsChanged()).isEmpty();
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {
            "listen: [\"127.0.0.1:8081\"]",
            "listen: [\"127.0.0.1:8080\", \"127.0.0.2:8080\"]",
            "scheduler: lc",
            "targetPort: 9000",
            "sessionAffinity: ClientIP",
            "proxyProtocol: v1",
            "sourceRanges: [\"10.0.0.0/8\"]",
            "connectTimeout: 2s",
            "idleTimeout: 5m",
            "maxConnections: 10",
            "healthCheck: {type: tcp}",
            "outlierDetection: {}"})
    void aPortWhoseListenersOrPolicyDifferIsChanged(String change) throws Exception {
        List<Service> before = web("name: http", "endpoints: [\"10.0.0.1:80\"]");
        List<Service> after = web("name: http", change, "endpoints: [\"10.0.0.1:80\"]");

        ConfigDiff diff = ConfigDiff.between(before, after);

        assertThat(diff.portsChanged()).containsExactly(WEB_PORT);
        assertThat(diff.portsAdded()).isEmpty();
        assertThat(diff.portsRemoved()).isEmpty();
        assertThat(diff.endpointsAdded()).isEmpty();
        assertThat(diff.endpointsRemoved()).isEmpty();
        assertThat(diff.endpointsChanged()).isEmpty();
        assertThat(diff.summary()).isEqualTo("1 port(s) changed");
    }

    /** Issue #17: a reload that changes only how endpoints are checked still says which port it touched. */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {
            "healthCheck: {type: tcp, interval: 5s}",
            "healthCheck: {type: tcp, startDown: true}",
            "healthCheck: {type: http}",
            "healthCheck: {type: none}",
            "healthCheck: {type: tcp}\n        failOpen: false",
            "healthCheck: {type: tcp}\n        outlierDetection: {maxEjectionPercent: 10}"})
    void aPortWhoseHealthPolicyDiffersIsChanged(String change) throws Exception {
        List<Service> before = web("name: http", "healthCheck: {type: tcp}", "outlierDetection: {}", "endpoints: [\"10.0.0.1:80\"]");
        String after = change.contains("outlierDetection") ? change : change + "\n        outlierDetection: {}";

        ConfigDiff diff = ConfigDiff.between(before, web("name: http", after, "endpoints: [\"10.0.0.1:80\"]"));

        assertThat(diff.portsChanged()).containsExactly(WEB_PORT);
        assertThat(diff.endpointsChanged()).isEmpty();
        assertThat(diff.summary()).isEqualTo("1 port(s) changed");
        assertThat(ConfigDiff.between(before, before).isEmpty()).as("the same health policy is no change").isTrue();
    }

    @Test
    void endpointsAddedRemovedAndChangedAreNamedByPortAndAddress() throws Exception {
        List<Service> before = web("name: http", """
                endpoints:
                          - "10.0.0.1:80"
                          - "10.0.0.2:80"
                          - {address: "10.0.0.3:80", weight: 1}
                          - "[fd00::4]:80"
                          - "10.0.0.5:80"
                """);
        List<Service> after = web("name: http", """
                endpoints:
                          - "10.0.0.1:80"
                          - {address: "10.0.0.3:80", weight: 5}
                          - "[fd00::4]:80"
                          - "10.0.0.6:80"
                          - "[fd00::7]:80"
                """);

        ConfigDiff diff = ConfigDiff.between(before, after);

        assertThat(diff.endpointsAdded()).containsExactly(WEB_PORT + " 10.0.0.6:80", WEB_PORT + " [fd00::7]:80");
        assertThat(diff.endpointsRemoved()).containsExactly(WEB_PORT + " 10.0.0.2:80", WEB_PORT + " 10.0.0.5:80");
        assertThat(diff.endpointsChanged()).containsExactly(WEB_PORT + " 10.0.0.3:80");
        assertThat(diff.portsChanged()).isEmpty();
        assertThat(diff.summary()).isEqualTo("2 endpoint(s) added, 2 endpoint(s) removed, 1 endpoint(s) changed");
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {
            "{address: \"10.0.0.1:80\", weight: 0}",
            "{address: \"10.0.0.1:80\", ready: false}",
            "{address: \"10.0.0.1:80\", ready: false, serving: true, terminating: true}",
            "{address: \"10.0.0.1:80\", node: node-b}",
            "{address: \"10.0.0.1:80\", maxConnections: 7}"})
    void anEndpointWhoseWeightStateNodeOrLimitDiffersIsChanged(String endpoint) throws Exception {
        List<Service> before = web("name: http", "endpoints: [\"10.0.0.1:80\", \"10.0.0.2:80\"]");
        List<Service> after = web("name: http", "endpoints: [" + endpoint + ", \"10.0.0.2:80\"]");

        ConfigDiff diff = ConfigDiff.between(before, after);

        assertThat(diff.endpointsChanged()).containsExactly(WEB_PORT + " 10.0.0.1:80");
        assertThat(diff.endpointsAdded()).isEmpty();
        assertThat(diff.endpointsRemoved()).isEmpty();
        assertThat(diff.summary()).isEqualTo("1 endpoint(s) changed");
    }

    @Test
    void everyKindOfChangeAtOnceIsCountedInTheSummary() throws Exception {
        List<Service> before = services("""
                services:
                  - name: test/gone
                    ports: [{name: p, listen: ["127.0.0.1:8001"], endpoints: ["10.0.0.1:80"]}]
                  - name: test/web
                    ports:
                      - {name: http, listen: ["127.0.0.1:8080"], endpoints: ["10.0.0.1:80", "10.0.0.2:80"]}
                      - {name: old, listen: ["127.0.0.1:8081"], endpoints: ["10.0.0.1:81"]}
                """);
        List<Service> after = services("""
                services:
                  - name: test/web
                    ports:
                      - name: http
                        listen: ["127.0.0.1:8080"]
                        scheduler: wrr
                        endpoints: [{address: "10.0.0.1:80", weight: 2}, "10.0.0.3:80"]
                      - {name: new, listen: ["127.0.0.1:8082"], endpoints: ["10.0.0.1:82"]}
                  - name: test/fresh
                    ports: [{name: p, listen: ["127.0.0.1:8002"], endpoints: ["10.0.0.1:80"]}]
                """);

        ConfigDiff diff = ConfigDiff.between(before, after);

        assertThat(diff).isEqualTo(new ConfigDiff(List.of("test/fresh"), List.of("test/gone"),
                List.of("test/web:new/TCP"), List.of("test/web:old/TCP"), List.of(WEB_PORT),
                List.of(WEB_PORT + " 10.0.0.3:80"), List.of(WEB_PORT + " 10.0.0.2:80"), List.of(WEB_PORT + " 10.0.0.1:80")));
        assertThat(diff.summary()).isEqualTo("1 service(s) added, 1 service(s) removed, 1 port(s) added, 1 port(s) removed, "
                + "1 port(s) changed, 1 endpoint(s) added, 1 endpoint(s) removed, 1 endpoint(s) changed");
    }

    @Test
    void theSameConfigIsNoChange() throws Exception {
        String yaml = """
                services:
                  - name: test/web
                    ports:
                      - name: http
                        listen: ["127.0.0.1:8080", "[::1]:8080"]
                        scheduler: wrr
                        sessionAffinity: ClientIP
                        endpoints: ["10.0.0.1:80", {address: "10.0.0.2", port: 80, weight: 3}]
                  - name: test/other
                    ports: [{name: p, listen: ["127.0.0.1:8001"], endpoints: []}]
                """;

        ConfigDiff diff = ConfigDiff.between(services(yaml), services(yaml));

        assertThat(diff.isEmpty()).isTrue();
        assertThat(diff.summary()).isEqualTo("no changes");
        assertThat(diff).isEqualTo(new ConfigDiff(List.of(), List.of(), List.of(), List.of(), List.of(), List.of(),
                List.of(), List.of()));
    }

    @Test
    void writingTheSameEndpointAnotherWayOrListingServicesInAnotherOrderIsNoChange() throws Exception {
        List<Service> before = services("""
                services:
                  - name: test/a
                    ports: [{name: p, listen: ["127.0.0.1:8001"], targetPort: 80, endpoints: ["10.0.0.1"]}]
                  - name: test/b
                    ports: [{name: p, listen: ["127.0.0.1:8002"], endpoints: ["10.0.0.2:80"]}]
                """);
        List<Service> after = services("""
                services:
                  - name: test/b
                    ports: [{name: p, listen: ["127.0.0.1:8002"], endpoints: [{address: "10.0.0.2", port: 80, weight: 1}]}]
                  - name: test/a
                    ports: [{name: p, listen: ["127.0.0.1:8001"], targetPort: 80, endpoints: ["10.0.0.1:80"]}]
                """);

        assertThat(ConfigDiff.between(before, after).isEmpty()).isTrue();
    }

    @Test
    void fromNothingEveryServiceIsAddedAndToNothingEveryServiceIsRemoved() throws Exception {
        List<Service> some = services("""
                services:
                  - name: test/a
                    ports: [{name: p, listen: ["127.0.0.1:8001"], endpoints: ["10.0.0.1:80"]}]
                  - name: test/b
                    ports: [{name: p, listen: ["127.0.0.1:8002"], endpoints: ["10.0.0.2:80"]}]
                """);

        assertThat(ConfigDiff.between(List.of(), some).servicesAdded()).containsExactly("test/a", "test/b");
        assertThat(ConfigDiff.between(some, List.of()).servicesRemoved()).containsExactly("test/a", "test/b");
        assertThat(ConfigDiff.between(List.of(), List.of()).isEmpty()).isTrue();
    }

    /** One service {@code test/web} with one port made of {@code portKeys}, listening on 127.0.0.1:8080 unless they say otherwise. */
    private static List<Service> web(String... portKeys) throws ConfigException {
        StringBuilder yaml = new StringBuilder("""
                services:
                  - name: test/web
                    ports:
                """);
        boolean hasListen = false;
        for (int i = 0; i < portKeys.length; i++) {
            yaml.append(i == 0 ? "      - " : "        ").append(portKeys[i].strip()).append('\n');
            hasListen |= portKeys[i].startsWith("listen:");
        }
        if (!hasListen) {
            yaml.append("        listen: [\"127.0.0.1:8080\"]\n");
        }
        return services(yaml.toString());
    }

    private static List<Service> services(String yaml) throws ConfigException {
        return ConfigLoader.parse("test.yaml", yaml).services();
    }
}

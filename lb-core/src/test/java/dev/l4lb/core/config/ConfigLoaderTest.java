package dev.l4lb.core.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

import dev.l4lb.core.model.AcceptProxyProtocol;
import dev.l4lb.core.model.Cidr;
import dev.l4lb.core.model.Endpoint;
import dev.l4lb.core.model.HashKey;
import dev.l4lb.core.model.PortPolicy;
import dev.l4lb.core.model.Protocol;
import dev.l4lb.core.model.ProxyProtocol;
import dev.l4lb.core.model.Service;
import dev.l4lb.core.model.ServicePort;
import dev.l4lb.core.model.SessionAffinity;
import dev.l4lb.core.model.SchedulerType;

class ConfigLoaderTest {
    private static final String FILE = "test.yaml";
    private static final String LISTEN = "listen: [\"127.0.0.1:8080\"]";
    private static final String PORT = "services[0].ports[0]";
    private static final String KNOWN_SCHEDULERS = "rr, wrr, lc, wlc, sed, nq, sh, mh, p2c, random";

    private static final String FULL = """
            services:
              - name: demo/echo
                ports:
                  - name: http
                    protocol: TCP
                    listen: ["127.0.0.1:8080", "[::1]:8080"]
                    targetPort: 9000
                    scheduler: rr
                    sessionAffinity: ClientIP
                    sessionAffinityTimeoutSeconds: 600
                    sessionAffinityMaxEntries: 5000
                    proxyProtocol: v2
                    proxyProtocolUniqueId: true
                    acceptProxyProtocol: true
                    trustedUpstreams: ["192.168.0.0/16", "::1"]
                    acceptProxyProtocolTimeout: 500ms
                    sourceRanges: ["10.0.0.0/8", "fd00::/8"]
                    connectTimeout: 250ms
                    idleTimeout: 1m
                    maxConnections: 100
                    endpoints:
                      - "10.0.0.1:9001"
                      - "10.0.0.2"              # no port: takes targetPort
                      - "[fd00::3]:9003"
                      - address: 10.0.0.4
                        port: 9004
                        weight: 3
                        node: node-a
                        maxConnections: 50
                      - address: 10.0.0.5       # no port: takes targetPort
                        ready: false            # serving follows ready
                      - address: "10.0.0.6:9006"
                        ready: false
                        serving: true
                        terminating: true
                  - name: metrics
                    listen: ["127.0.0.1:8081"]
                    sessionAffinity: ClientIP   # timeout omitted: Kubernetes' 3 hours
                    proxyProtocol: v1
              - name: echo
                ports:
                  - listen: ["0.0.0.0:9090"]
                    endpoints: ["127.0.0.1:9001"]
            admin:
              metrics: "127.0.0.1:20249"
              allowedHosts: ["LB.Example.Internal"]
            """;

    @Test
    void parsesAFullConfigIntoTheModel() throws Exception {
        BalancerConfig config = ConfigLoader.parse(FILE, FULL);

        ServicePort http = new ServicePort("http", Protocol.TCP, List.of(at("127.0.0.1", 8080), at("::1", 8080)), 9000,
                new PortPolicy(SchedulerType.RR, SessionAffinity.CLIENT_IP, 600, 5000, ProxyProtocol.V2, true,
                        new AcceptProxyProtocol(List.of(new Cidr(ip("192.168.0.0"), 16), new Cidr(ip("::1"), 128)),
                                Duration.ofMillis(500)),
                        List.of(new Cidr(ip("10.0.0.0"), 8), new Cidr(ip("fd00::"), 8)),
                        Duration.ofMillis(250), Duration.ofMinutes(1), 100),
                List.of(Endpoint.of(at("10.0.0.1", 9001)),
                        Endpoint.of(at("10.0.0.2", 9000)),
                        Endpoint.of(at("fd00::3", 9003)),
                        new Endpoint(at("10.0.0.4", 9004), 3, "node-a", true, true, false, 50),
                        new Endpoint(at("10.0.0.5", 9000), 1, "", false, false, false, 0),
                        new Endpoint(at("10.0.0.6", 9006), 1, "", false, true, true, 0)));
        PortPolicy d = PortPolicy.defaults();
        ServicePort metrics = new ServicePort("metrics", Protocol.TCP, List.of(at("127.0.0.1", 8081)), 0,
                new PortPolicy(SchedulerType.RR, SessionAffinity.CLIENT_IP, 10800, 1_000_000, ProxyProtocol.V1, false,
                        AcceptProxyProtocol.OFF, List.of(),
                        d.connectTimeout(), d.idleTimeout(), 0),
                List.of());
        ServicePort bare = new ServicePort("", Protocol.TCP, List.of(at("0.0.0.0", 9090)), 0, d,
                List.of(Endpoint.of(at("127.0.0.1", 9001))));

        assertThat(config.services()).containsExactly(
                new Service("demo", "echo", List.of(http, metrics)),
                new Service("default", "echo", List.of(bare)));
        assertThat(config.services().get(1).qualifiedName()).isEqualTo("default/echo");
        assertThat(config.admin()).isEqualTo(new AdminConfig(at("127.0.0.1", 20249), AdminConfig.defaults().healthz(),
                List.of("lb.example.internal")));
        // The defaults the record documents, so the expectations above mean what they say.
        assertThat(d.sessionAffinityTimeoutSeconds()).isEqualTo(10800);
        assertThat(d.sessionAffinityMaxEntries()).isEqualTo(1_000_000);
        assertThat(d.connectTimeout()).isEqualTo(Duration.ofSeconds(1));
        assertThat(d.idleTimeout()).isZero();
    }

    @Test
    void aMinimalPortIsValid() throws Exception {
        // The baseline every single-error case below adds one mistake to.
        BalancerConfig config = ConfigLoader.parse(FILE, onePort(LISTEN));
        assertThat(config.services()).singleElement()
                .satisfies(s -> assertThat(s.ports().get(0).endpoints()).isEmpty());
        assertThat(config.admin()).isEqualTo(AdminConfig.defaults());
    }

    @Test
    void aUdpPortExpiresIdleSessionsAndBoundsItsTable() throws Exception {
        BalancerConfig config = ConfigLoader.parse(FILE, onePort("listen: [\"127.0.0.1:53\"]", "protocol: UDP",
                "endpoints: [\"10.0.0.1:53\"]"));
        ServicePort port = config.services().get(0).ports().get(0);
        assertThat(port.protocol()).isEqualTo(Protocol.UDP);
        assertThat(port.policy().idleTimeout()).isEqualTo(Duration.ofSeconds(10));
        assertThat(port.policy().maxConnections()).isEqualTo(65_536);

        ServicePort tuned = ConfigLoader.parse(FILE, onePort("listen: [\"127.0.0.1:53\"]", "protocol: UDP",
                "idleTimeout: 250ms", "maxSessions: 100")).services().get(0).ports().get(0);
        assertThat(tuned.policy().idleTimeout()).isEqualTo(Duration.ofMillis(250));
        assertThat(tuned.policy().maxConnections()).isEqualTo(100);
    }

    @Test
    void aUdpEndpointOnThePortOfATcpListenerIsNoLoop() throws Exception {
        BalancerConfig config = ConfigLoader.parse(FILE, """
                services:
                  - name: dns
                    ports:
                      - {name: tcp, listen: ["0.0.0.0:5353"], endpoints: ["10.0.0.1:53"]}
                      - {name: udp, protocol: UDP, listen: ["127.0.0.2:53"], endpoints: ["127.0.0.1:5353"]}
                """);
        assertThat(config.services().get(0).ports()).hasSize(2);
    }

    static Stream<Arguments> singleErrors() {
        return Stream.of(
                error("unknown root key", "services: []\nbogus: 1\n", "bogus", "unknown key 'bogus'"),
                error("unknown service key", "services:\n  - name: echo\n    bogus: 1\n    ports: [{" + LISTEN + "}]\n",
                        "services[0].bogus", "unknown key 'bogus'"),
                error("unknown port key", onePort(LISTEN, "bogus: 1"), PORT + ".bogus", "unknown key 'bogus'"),
                error("unknown endpoint key", onePort(LISTEN, "endpoints: [{address: \"10.0.0.1:80\", bogus: 1}]"),
                        PORT + ".endpoints[0].bogus", "unknown key 'bogus'"),
                error("bad IPv4", onePort(LISTEN, "endpoints: [\"127.0.0.1:80\", \"300.1.1.1:80\"]"),
                        PORT + ".endpoints[1]", "bad address '300.1.1.1'"),
                error("host name", onePort(LISTEN, "endpoints: [\"localhost:80\"]"),
                        PORT + ".endpoints[0]", "host names are not resolved"),
                error("host name in listen", onePort("listen: [\"localhost:8080\"]"),
                        PORT + ".listen[0]", "bad address 'localhost'"),
                error("endpoint port out of range", onePort(LISTEN, "endpoints: [\"127.0.0.1:70000\"]"),
                        PORT + ".endpoints[0]", "out of range"),
                error("endpoint port 0", onePort(LISTEN, "endpoints: [\"127.0.0.1:0\"]"),
                        PORT + ".endpoints[0]", "out of range 1..65535"),
                error("mapping port out of range", onePort(LISTEN,
                                "endpoints: [\"127.0.0.1:1\", \"127.0.0.2:2\", {address: \"127.0.0.1\", port: 70000}]"),
                        PORT + ".endpoints[2].port", "70000 is out of range 1..65535"),
                error("listen port 0", onePort("listen: [\"127.0.0.1:0\"]"), PORT + ".listen[0]", "out of range 1..65535"),
                error("IPv4 in brackets", onePort("listen: [\"[127.0.0.1]:8080\"]"), PORT + ".listen[0]", "brackets are for IPv6"),
                error("listen without port", onePort("listen: [\"127.0.0.1\"]"), PORT + ".listen[0]", "has no port"),
                error("same listener twice in a port", onePort("listen: [\"127.0.0.1:8080\", \"127.0.0.1:8080\"]"),
                        PORT + ".listen[1]", "duplicate listener 127.0.0.1:8080 (also " + PORT + ".listen[0])"),
                error("unknown scheduler", onePort(LISTEN, "scheduler: leastconn"), PORT + ".scheduler",
                        "unknown scheduler 'leastconn' (known: " + KNOWN_SCHEDULERS + ")"),
                error("scheduler names are lower case", onePort(LISTEN, "scheduler: RR"), PORT + ".scheduler",
                        "unknown scheduler 'RR' (known: " + KNOWN_SCHEDULERS + ")"),
                error("empty scheduler", onePort(LISTEN, "scheduler: \"\""), PORT + ".scheduler",
                        "must be a non-empty string"),
                error("unknown hashKey", onePort(LISTEN, "scheduler: mh", "hashKey: clientPort"), PORT + ".hashKey",
                        "unknown hashKey 'clientPort' (known: clientIp, clientIpPort)"),
                error("hashKey on a scheduler that does not hash", onePort(LISTEN, "hashKey: clientIpPort"),
                        PORT + ".hashKey", "is for the hashing schedulers (sh, mh); scheduler rr does not hash the client"),
                error("hashKey on lc", onePort(LISTEN, "scheduler: lc", "hashKey: clientIpPort"),
                        PORT + ".hashKey", "scheduler lc does not hash the client"),
                error("affinity max entries 0", onePort(LISTEN, "sessionAffinityMaxEntries: 0"),
                        PORT + ".sessionAffinityMaxEntries", "0 is out of range 1..67108864"),
                error("affinity max entries negative", onePort(LISTEN, "sessionAffinityMaxEntries: -5"),
                        PORT + ".sessionAffinityMaxEntries", "-5 is out of range 1..67108864"),
                error("affinity max entries above 2^26", onePort(LISTEN, "sessionAffinityMaxEntries: 67108865"),
                        PORT + ".sessionAffinityMaxEntries", "67108865 is out of range 1..67108864"),
                error("affinity max entries not whole", onePort(LISTEN, "sessionAffinityMaxEntries: 1000.5"),
                        PORT + ".sessionAffinityMaxEntries", "must be a whole number from 1 to 67108864, not '1000.5'"),
                error("affinity max entries a string", onePort(LISTEN, "sessionAffinityMaxEntries: lots"),
                        PORT + ".sessionAffinityMaxEntries", "must be a whole number"),
                error("endpoint maxConnections negative", onePort(LISTEN,
                                "endpoints: [\"10.0.0.1:80\", {address: \"10.0.0.2:80\", maxConnections: -1}]"),
                        PORT + ".endpoints[1].maxConnections", "-1 is out of range 0..2147483647"),
                error("endpoint maxConnections beyond an int", onePort(LISTEN,
                                "endpoints: [\"10.0.0.1:80\", {address: \"10.0.0.2:80\", maxConnections: 2147483648}]"),
                        PORT + ".endpoints[1].maxConnections", "must be a whole number from 0 to 2147483647, not '2147483648'"),
                error("endpoint maxConnections a string", onePort(LISTEN,
                                "endpoints: [{address: \"10.0.0.1:80\", maxConnections: \"10\"}]"),
                        PORT + ".endpoints[0].maxConnections", "must be a whole number"),
                error("unknown sessionAffinity", onePort(LISTEN, "sessionAffinity: clientip"),
                        PORT + ".sessionAffinity", "(known: None, ClientIP)"),
                error("affinity timeout 0", onePort(LISTEN, "sessionAffinityTimeoutSeconds: 0"),
                        PORT + ".sessionAffinityTimeoutSeconds", "0 is out of range 1..86400"),
                error("affinity timeout 86401", onePort(LISTEN, "sessionAffinityTimeoutSeconds: 86401"),
                        PORT + ".sessionAffinityTimeoutSeconds", "86401 is out of range 1..86400"),
                error("unknown proxyProtocol", onePort(LISTEN, "proxyProtocol: v3"), PORT + ".proxyProtocol",
                        "(known: none, v1, v2)"),
                error("unique id with v1", onePort(LISTEN, "proxyProtocol: v1", "proxyProtocolUniqueId: true"),
                        PORT + ".proxyProtocolUniqueId", "needs proxyProtocol: v2"),
                error("unique id without sending", onePort(LISTEN, "proxyProtocolUniqueId: true"),
                        PORT + ".proxyProtocolUniqueId", "needs proxyProtocol: v2"),
                error("accepting from anyone", onePort(LISTEN, "acceptProxyProtocol: true"),
                        PORT, "acceptProxyProtocol: true needs trustedUpstreams"),
                error("accepting from nobody", onePort(LISTEN, "acceptProxyProtocol: true", "trustedUpstreams: []"),
                        PORT + ".trustedUpstreams", "must name at least one CIDR"),
                error("trusting without accepting", onePort(LISTEN, "trustedUpstreams: [\"10.0.0.0/8\"]"),
                        PORT + ".trustedUpstreams", "has no effect without acceptProxyProtocol: true"),
                error("header timeout without accepting", onePort(LISTEN, "acceptProxyProtocolTimeout: 1s"),
                        PORT + ".acceptProxyProtocolTimeout", "has no effect without acceptProxyProtocol: true"),
                error("header timeout 0", onePort(LISTEN, "acceptProxyProtocol: true", "trustedUpstreams: [\"10.0.0.0/8\"]",
                        "acceptProxyProtocolTimeout: \"0\""), PORT + ".acceptProxyProtocolTimeout", "must be more than 0"),
                error("bad trusted CIDR", onePort(LISTEN, "acceptProxyProtocol: true", "trustedUpstreams: [\"10.0.0.0/8\", \"::1/129\"]"),
                        PORT + ".trustedUpstreams[1]", "'::1/129' is not a CIDR"),
                error("accept not a boolean", onePort(LISTEN, "acceptProxyProtocol: yes please", "trustedUpstreams: [\"10.0.0.0/8\"]"),
                        PORT + ".acceptProxyProtocol", "must be true or false"),
                error("bad CIDR", onePort(LISTEN, "sourceRanges: [\"10.0.0.0/8\", \"10.0.0.0/33\"]"),
                        PORT + ".sourceRanges[1]", "'10.0.0.0/33' is not a CIDR"),
                error("bad duration", onePort(LISTEN, "idleTimeout: 1x"), PORT + ".idleTimeout",
                        "'1x' is not a duration"),
                error("duration without unit", onePort(LISTEN, "connectTimeout: 5"), PORT + ".connectTimeout",
                        "not a duration"),
                error("connectTimeout 0", onePort(LISTEN, "connectTimeout: \"0\""), PORT + ".connectTimeout",
                        "must be more than 0"),
                error("maxConnections negative", onePort(LISTEN, "maxConnections: -1"), PORT + ".maxConnections",
                        "out of range"),
                error("weight too large", onePort(LISTEN, "endpoints: [{address: \"10.0.0.1:80\", weight: 65536}]"),
                        PORT + ".endpoints[0].weight", "out of range 0..65535"),
                error("ready not a boolean", onePort(LISTEN, "endpoints: [{address: \"10.0.0.1:80\", ready: \"yes\"}]"),
                        PORT + ".endpoints[0].ready", "must be true or false"),
                error("missing listen", onePort("endpoints: [\"10.0.0.1:80\"]"), PORT, "missing key 'listen'"),
                error("missing ports", "services:\n  - name: echo\n", "services[0]", "missing key 'ports'"),
                error("missing service name", "services:\n  - ports: [{" + LISTEN + "}]\n", "services[0]",
                        "missing key 'name'"),
                error("bad service name", "services:\n  - name: Demo/Echo\n    ports: [{" + LISTEN + "}]\n",
                        "services[0].name", "is not namespace/name"),
                error("missing services", "admin: {metrics: \"127.0.0.1:10249\"}\n", "", "missing key 'services'"),
                error("services not a list", "services: {name: echo}\n", "services", "must be a list"),
                error("admin host not a name", onePort(LISTEN) + "admin: {allowedHosts: [\"lb.example\", \"http://x\"]}\n",
                        "admin.allowedHosts[1]", "'http://x' is not a DNS name"),
                error("admin hosts not a list", onePort(LISTEN) + "admin: {allowedHosts: lb.example}\n",
                        "admin.allowedHosts", "must be a list of DNS names"),
                error("root not a mapping", "- services\n", "", "must be a mapping"),
                error("duplicate endpoint", onePort(LISTEN, "endpoints: [\"10.0.0.1:80\", {address: 10.0.0.1, port: 80}]"),
                        PORT + ".endpoints[1]", "duplicate endpoint 10.0.0.1:80"),
                error("endpoint without port or targetPort", onePort(LISTEN, "endpoints: [\"10.0.0.1\"]"),
                        PORT + ".endpoints[0]", "has no port, and the port entry has no targetPort"),
                error("IPv6 endpoint without brackets", onePort(LISTEN, "endpoints: [\"::1:80\"]"),
                        PORT + ".endpoints[0]", "looks like an IPv6 address: write it as \"[::1:80]\""),
                error("IPv6 listener without brackets", onePort("listen: [\"::1:8080\"]"), PORT + ".listen[0]",
                        "looks like an IPv6 address"),
                error("PROXY header on a UDP port", onePort(LISTEN, "protocol: UDP", "proxyProtocol: v2"),
                        PORT + ".proxyProtocol", "the PROXY protocol is TCP-only in l4lb"),
                error("accepting PROXY on a UDP port", onePort(LISTEN, "protocol: UDP", "acceptProxyProtocol: true"),
                        PORT + ".acceptProxyProtocol", "TCP-only"),
                error("connectTimeout on a UDP port", onePort(LISTEN, "protocol: UDP", "connectTimeout: 1s"),
                        PORT + ".connectTimeout", "without a handshake"),
                error("maxConnections on a UDP port", onePort(LISTEN, "protocol: UDP", "maxConnections: 5"),
                        PORT + ".maxConnections", "limits its sessions with maxSessions"),
                error("a UDP port that never expires", onePort(LISTEN, "protocol: UDP", "idleTimeout: 0"),
                        PORT + ".idleTimeout", "must be more than 0 for a UDP port"),
                error("maxSessions on a TCP port", onePort(LISTEN, "maxSessions: 5"), PORT + ".maxSessions",
                        "is for UDP ports"),
                error("no UDP sessions at all", onePort(LISTEN, "protocol: UDP", "maxSessions: 0"), PORT + ".maxSessions",
                        "out of range"),
                error("unknown protocol", onePort(LISTEN, "protocol: SCTP"), PORT + ".protocol",
                        "unknown protocol 'SCTP'"),
                error("empty file", "", "", "the file is empty"),
                error("a second YAML document", onePort(LISTEN) + "---\nservices: []\n", "line 6", "a second YAML document"),
                error("wildcard endpoint", onePort(LISTEN, "endpoints: [\"0.0.0.0:80\"]"), PORT + ".endpoints[0]",
                        "cannot connect to 0.0.0.0:80: it is a wildcard address"),
                error("multicast endpoint", onePort(LISTEN, "endpoints: [{address: \"224.0.0.1:80\"}]"),
                        PORT + ".endpoints[0].address", "it is a multicast address"),
                error("broadcast endpoint", onePort(LISTEN, "endpoints: [\"255.255.255.255:80\"]"), PORT + ".endpoints[0]",
                        "it is the broadcast address"),
                error("endpoint is the balancer's own listener", onePort(LISTEN, "endpoints: [\"127.0.0.1:8080\"]"),
                        PORT + ".endpoints[0]", "is this balancer's own listener 127.0.0.1:8080"),
                error("endpoint on loopback under a wildcard listener", onePort("listen: [\"0.0.0.0:8080\"]",
                        "endpoints: [\"127.0.0.1:8080\"]"), PORT + ".endpoints[0]", "traffic would loop back"),
                error("UDP endpoint is the balancer's own UDP listener", onePort("listen: [\"127.0.0.1:5353\"]",
                        "protocol: UDP", "endpoints: [\"127.0.0.1:5353\"]"), PORT + ".endpoints[0]", "traffic would loop back"),
                error("UDP on a wildcard address", onePort("listen: [\"0.0.0.0:53\"]", "protocol: UDP"), PORT + ".listen[0]",
                        "a UDP port cannot listen on a wildcard address"),
                error("comments only", "# nothing here\n", "", "the file is empty"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("singleErrors")
    void reportsEachMistakeAtItsPath(String name, String yaml, String path, String fragment) {
        assertThat(problems(yaml)).singleElement().satisfies(p -> {
            assertThat(p.file()).isEqualTo(FILE);
            assertThat(p.path()).isEqualTo(path);
            assertThat(p.message()).contains(fragment);
        });
    }

    @Test
    void duplicateListenerAcrossServices() {
        List<ConfigProblem> problems = problems(twoServices("127.0.0.1:8080", "127.0.0.1:8080"));
        assertThat(problems).singleElement().satisfies(p -> {
            assertThat(p.path()).isEqualTo("services[1].ports[0].listen[0]");
            assertThat(p.message()).contains("duplicate listener 127.0.0.1:8080", "services[0].ports[0].listen[0]");
        });
    }

    @Test
    void wildcardListenerOverlapsSpecificOnesOnTheSamePort() {
        // Whichever comes first, binding both would fail with EADDRINUSE.
        assertThat(problems(twoServices("0.0.0.0:8080", "127.0.0.1:8080"))).singleElement().satisfies(p -> {
            assertThat(p.path()).isEqualTo("services[1].ports[0].listen[0]");
            assertThat(p.message()).contains("127.0.0.1:8080 overlaps 0.0.0.0:8080");
        });
        assertThat(problems(twoServices("127.0.0.1:8080", "0.0.0.0:8080"))).singleElement()
                .satisfies(p -> assertThat(p.message()).contains("overlaps"));
        // [::] is dual-stack, so it also takes the IPv4 port.
        assertThat(problems(twoServices("[::]:8080", "127.0.0.1:8080"))).singleElement()
                .satisfies(p -> assertThat(p.message()).contains("overlaps"));
    }

    @ParameterizedTest
    @ValueSource(strings = {"127.0.0.1:8081", "127.0.0.2:8080", "[::1]:8080"})
    void listenersThatDoNotCollideAreAccepted(String second) throws Exception {
        // Other port, other specific address, or IPv6 next to a 0.0.0.0 wildcard.
        String first = second.startsWith("[") ? "0.0.0.0:8080" : "127.0.0.1:8080";
        assertThat(ConfigLoader.parse(FILE, twoServices(first, second)).services()).hasSize(2);
    }

    @Test
    void duplicateServiceNamesCountTheDefaultNamespace() {
        String yaml = """
                services:
                  - name: echo
                    ports: [{listen: ["127.0.0.1:8080"]}]
                  - name: default/echo
                    ports: [{listen: ["127.0.0.1:8081"]}]
                """;
        assertThat(problems(yaml)).singleElement().satisfies(p -> {
            assertThat(p.path()).isEqualTo("services[1].name");
            assertThat(p.message()).contains("duplicate service default/echo (also services[0])");
        });
    }

    @Test
    void portNamesMustBeUniqueAndPresentWhenThereAreSeveral() {
        String duplicate = """
                services:
                  - name: echo
                    ports:
                      - {name: http, listen: ["127.0.0.1:8080"]}
                      - {name: http, listen: ["127.0.0.1:8081"]}
                """;
        assertThat(problems(duplicate)).singleElement().satisfies(p -> {
            assertThat(p.path()).isEqualTo("services[0].ports[1].name");
            assertThat(p.message()).contains("duplicate port name 'http'");
        });
        String unnamed = """
                services:
                  - name: echo
                    ports:
                      - {listen: ["127.0.0.1:8080"]}
                      - {listen: ["127.0.0.1:8081"]}
                """;
        assertThat(problems(unnamed))
                .extracting(ConfigProblem::path)
                .containsExactly("services[0].ports[0]", "services[0].ports[1]");
        assertThat(problems(unnamed)).allSatisfy(p -> assertThat(p.message()).contains("needs a name"));
    }

    @Test
    void invalidYamlNamesTheLine() {
        assertThat(problems("services:\n  - name: [echo\n")).singleElement().satisfies(p -> {
            assertThat(p.path()).startsWith("line ");
            assertThat(p.message()).startsWith("not valid YAML");
        });
    }

    @Test
    void aYamlErrorIsOneLineWithoutTheParsersExcerpt() {
        // SnakeYAML's message spans lines, quoting the file with a caret under the fault; found by ConfigFuzzTest.
        assertThat(problems("services:\n  - name: \"shop/web\n    ports: []\n")).singleElement().satisfies(p -> {
            assertThat(p.toString()).doesNotContain("\n", "^", "in 'reader'");
            assertThat(p.message()).startsWith("not valid YAML: while scanning a quoted scalar; found unexpected end of stream");
        });
    }

    @Test
    void duplicateYamlKeysAreRejectedNotSilentlyOverwritten() {
        String yaml = onePort(LISTEN, "scheduler: rr", "scheduler: rr");
        assertThat(problems(yaml)).singleElement().satisfies(p -> {
            assertThat(p.path()).contains("line");
            assertThat(p.message()).contains("not valid YAML").containsIgnoringCase("duplicate");
        });
    }

    @Test
    void reportsEveryProblemInTheFileAtOnce() {
        String yaml = """
                bogus: true
                services:
                  - name: web
                    ports:
                      - name: http
                        listen: ["0.0.0.0:80"]
                        scheduler: dh
                        endpoints: ["10.0.0.1:80", "300.1.1.1:80", "10.0.0.1:80"]
                  - name: api
                    ports:
                      - name: grpc
                        listen: ["127.0.0.1:80"]
                        sessionAffinityTimeoutSeconds: 0
                        connectTimeout: soon
                        sourceRanges: ["10.0.0.0/8", "bad"]
                        endpoints: [{address: 10.0.0.2, port: 70000}, {address: "10.0.0.3:80", maxConnections: -1}]
                """;
        List<ConfigProblem> problems = problems(yaml);
        assertThat(problems).extracting(ConfigProblem::path).containsExactlyInAnyOrder(
                "bogus",
                "services[0].ports[0].scheduler",
                "services[0].ports[0].endpoints[1]",
                "services[0].ports[0].endpoints[2]",
                "services[1].ports[0].sessionAffinityTimeoutSeconds",
                "services[1].ports[0].connectTimeout",
                "services[1].ports[0].sourceRanges[1]",
                "services[1].ports[0].listen[0]",
                "services[1].ports[0].endpoints[0].port",
                "services[1].ports[0].endpoints[1].maxConnections");
        assertThat(problems).allSatisfy(p -> assertThat(p.file()).isEqualTo(FILE));
    }

    @Test
    void problemsPrintAsFilePathMessage() {
        ConfigException e = rejection(onePort(LISTEN, "scheduler: bogus"));
        ConfigProblem problem = e.problems().get(0);
        assertThat(problem).hasToString("test.yaml: " + PORT + ".scheduler: " + problem.message());
        assertThat(e.getMessage()).isEqualTo(problem.toString());
        assertThat(new ConfigProblem("f.yaml", "", "empty")).hasToString("f.yaml: empty");
    }

    @ParameterizedTest
    @ValueSource(strings = {"rr", "wrr", "lc", "wlc", "sed", "nq", "sh", "mh", "p2c", "random"})
    void everySchedulerNameParses(String name) throws Exception {
        BalancerConfig config = ConfigLoader.parse(FILE, onePort(LISTEN, "scheduler: " + name, "sessionAffinity: ClientIP"));
        assertThat(config.services().get(0).ports().get(0).policy().scheduler().configName()).isEqualTo(name);
    }

    @ParameterizedTest
    @ValueSource(strings = {"sh", "mh"})
    void hashKeyIsReadForTheHashingSchedulers(String scheduler) throws Exception {
        PortPolicy byDefault = ConfigLoader.parse(FILE, onePort(LISTEN, "scheduler: " + scheduler))
                .services().get(0).ports().get(0).policy();
        PortPolicy withPort = ConfigLoader.parse(FILE, onePort(LISTEN, "scheduler: " + scheduler, "hashKey: clientIpPort"))
                .services().get(0).ports().get(0).policy();
        PortPolicy explicit = ConfigLoader.parse(FILE, onePort(LISTEN, "scheduler: " + scheduler, "hashKey: clientIp"))
                .services().get(0).ports().get(0).policy();

        assertThat(byDefault.hashKey()).isEqualTo(HashKey.CLIENT_IP);
        assertThat(withPort.hashKey()).isEqualTo(HashKey.CLIENT_IP_PORT);
        assertThat(explicit.hashKey()).isEqualTo(HashKey.CLIENT_IP);
    }

    static Stream<Arguments> schedulersNotOffered() {
        return Stream.of(
                Arguments.of("dh", List.of("destination hashing", "one endpoint", "use sh or mh")),
                Arguments.of("lblc", List.of("by destination", "single destination")),
                Arguments.of("lblcr", List.of("by destination", "single destination")),
                Arguments.of("fo", List.of("not offered", "weights", "readiness")),
                Arguments.of("ovf", List.of("not offered", "maxConnections")),
                Arguments.of("twos", List.of("offered as p2c")));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("schedulersNotOffered")
    void anIpvsSchedulerThatIsNotOfferedSaysWhyAndWhatToUse(String name, List<String> fragments) {
        assertThat(problems(onePort(LISTEN, "scheduler: " + name))).singleElement().satisfies(p -> {
            assertThat(p.file()).isEqualTo(FILE);
            assertThat(p.path()).isEqualTo(PORT + ".scheduler");
            assertThat(p.message()).startsWith(name + " ").contains(fragments)
                    .endsWith("(known: " + KNOWN_SCHEDULERS + ")")
                    .doesNotContain("unknown scheduler");
        });
    }

    @Test
    void endpointMaxConnectionsAndAffinityMaxEntriesParse() throws Exception {
        String yaml = onePort(LISTEN, "sessionAffinity: ClientIP", "sessionAffinityMaxEntries: 67108864",
                "endpoints: [{address: \"10.0.0.1:80\", maxConnections: 0},"
                        + " {address: \"10.0.0.2:80\", maxConnections: 2147483647}, \"10.0.0.3:80\"]");
        ServicePort port = ConfigLoader.parse(FILE, yaml).services().get(0).ports().get(0);

        assertThat(port.policy().sessionAffinityMaxEntries()).isEqualTo(PortPolicy.MAX_AFFINITY_MAX_ENTRIES);
        assertThat(port.endpoints()).extracting(Endpoint::maxConnections).containsExactly(0, Integer.MAX_VALUE, 0);
    }

    @Test
    void maxConnectionsOfEachEndpointIsReportedAtItsOwnPath() {
        String yaml = onePort(LISTEN, "endpoints: [{address: \"10.0.0.1:80\", maxConnections: 5},"
                + " {address: \"10.0.0.2:80\", maxConnections: -1}, {address: \"10.0.0.3:80\", maxConnections: -2}]");
        assertThat(problems(yaml)).extracting(ConfigProblem::toString).containsExactly(
                "test.yaml: services[0].ports[0].endpoints[1].maxConnections: -1 is out of range 0..2147483647",
                "test.yaml: services[0].ports[0].endpoints[2].maxConnections: -2 is out of range 0..2147483647");
    }

    @Test
    void loadReadsARealFile(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("lb.yaml");
        Files.writeString(file, FULL);
        assertThat(ConfigLoader.load(file)).isEqualTo(ConfigLoader.parse(FILE, FULL));
    }

    @Test
    void loadNamesTheFileInItsProblems(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("bad.yaml");
        Files.writeString(file, onePort(LISTEN, "scheduler: bogus"));
        try {
            ConfigLoader.load(file);
            fail("expected a ConfigException");
        } catch (ConfigException e) {
            assertThat(e.problems()).singleElement().satisfies(p -> assertThat(p.file()).isEqualTo(file.toString()));
        }
    }

    @Test
    void loadingAMissingFileIsOneProblem(@TempDir Path dir) {
        Path missing = dir.resolve("nope.yaml");
        try {
            ConfigLoader.load(missing);
            fail("expected a ConfigException");
        } catch (ConfigException e) {
            assertThat(e.problems()).containsExactly(new ConfigProblem(missing.toString(), "", "no such file"));
            assertThat(e.getMessage()).isEqualTo(missing + ": no such file");
        }
    }

    /** Issue #21: a Latin-1 byte once gave only "cannot read: Input length = 1". */
    @Test
    void aFileThatIsNotUtf8NamesTheLineAndTheBytes(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("latin1.yaml");
        byte[] text = (onePort(LISTEN) + "# caf\u00e9 au lait\n").getBytes(StandardCharsets.ISO_8859_1);
        Files.write(file, text);
        try {
            ConfigLoader.load(file);
            fail("expected a ConfigException");
        } catch (ConfigException e) {
            assertThat(e.problems()).containsExactly(new ConfigProblem(file.toString(), "line 5, byte 6",
                    "not UTF-8 (0xE9): save the file as UTF-8"));
        }
    }

    /** One service {@code echo} with one port of these lines (flow style keeps each on one line). */
    private static String onePort(String... lines) {
        StringBuilder yaml = new StringBuilder("services:\n  - name: echo\n    ports:\n");
        for (int i = 0; i < lines.length; i++) {
            yaml.append(i == 0 ? "      - " : "        ").append(lines[i]).append('\n');
        }
        return yaml.toString();
    }

    private static String twoServices(String firstListen, String secondListen) {
        return "services:\n"
                + "  - name: one\n    ports: [{listen: [\"" + firstListen + "\"]}]\n"
                + "  - name: two\n    ports: [{listen: [\"" + secondListen + "\"]}]\n";
    }

    private static Arguments error(String name, String yaml, String path, String fragment) {
        return Arguments.of(name, yaml, path, fragment);
    }

    private static List<ConfigProblem> problems(String yaml) {
        return rejection(yaml).problems();
    }

    private static ConfigException rejection(String yaml) {
        try {
            BalancerConfig config = ConfigLoader.parse(FILE, yaml);
            throw new AssertionError("expected the config to be rejected, got " + config);
        } catch (ConfigException e) {
            return e;
        }
    }

    private static InetAddress ip(String literal) throws UnknownHostException {
        return InetAddress.getByName(literal); // literals only: the JDK does not resolve them
    }

    private static InetSocketAddress at(String literal, int port) throws UnknownHostException {
        return new InetSocketAddress(ip(literal), port);
    }
}

package dev.l4lb.core.config;

import static dev.l4lb.core.config.OnePortConfigs.onePort;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import dev.l4lb.core.model.HealthCheck;
import dev.l4lb.core.model.HealthCheck.Kind;
import dev.l4lb.core.model.HealthCheck.StatusRange;
import dev.l4lb.core.model.HealthPolicy;
import dev.l4lb.core.model.OutlierDetection;
import dev.l4lb.core.model.ServicePort;

/** A port's healthCheck, outlierDetection and failOpen, read as users write them (issue #17). */
class HealthConfigTest {
    private static final String FILE = "test.yaml";
    private static final String PORT = "services[0].ports[0]";
    private static final String CHECK = PORT + ".healthCheck";
    private static final String OUTLIERS = PORT + ".outlierDetection";
    private static final String TCP = "listen: [\"127.0.0.1:8080\"]";
    private static final String UDP = "listen: [\"127.0.0.1:53\"]\nprotocol: UDP";

    @Test
    void withoutTheKeysAPortHasNoHealthPolicy() throws Exception {
        assertThat(health(TCP)).isEqualTo(HealthPolicy.NONE);
        assertThat(health(TCP, "healthCheck: {type: none}")).isEqualTo(HealthPolicy.NONE);
        assertThat(HealthPolicy.NONE.enabled()).isFalse();
        assertThat(HealthPolicy.NONE.failOpen()).isTrue();
    }

    @Test
    void aTcpCheckWithEveryDefault() throws Exception {
        HealthPolicy policy = health(TCP, "healthCheck: {type: tcp}");
        assertThat(policy).isEqualTo(new HealthPolicy(Optional.of(HealthCheck.tcpDefaults()), Optional.empty(), true));
        // The defaults the README states, so the expectation above means what it says.
        assertThat(HealthCheck.tcpDefaults()).isEqualTo(new HealthCheck(Kind.TCP, Duration.ofSeconds(2), Duration.ofSeconds(1),
                2, 3, 0, "/", new StatusRange(200, 399), false, false));
    }

    @Test
    void aFullTcpCheckWithOutlierDetection() throws Exception {
        HealthPolicy policy = health(TCP, """
                proxyProtocol: v2
                healthCheck:
                  type: tcp
                  interval: 5s
                  timeout: 500ms
                  rise: 1
                  fall: 100
                  port: 8081
                  sendProxyProtocol: true
                  startDown: true
                outlierDetection:
                  consecutiveConnectFailures: 3
                  baseEjectionTime: 10s
                  maxEjectionTime: 1m
                  maxEjectionPercent: 100
                failOpen: false
                """);
        assertThat(policy).isEqualTo(new HealthPolicy(
                Optional.of(new HealthCheck(Kind.TCP, Duration.ofSeconds(5), Duration.ofMillis(500), 1, 100, 8081, "/",
                        HealthCheck.DEFAULT_EXPECT_STATUS, true, true)),
                Optional.of(new OutlierDetection(3, Duration.ofSeconds(10), Duration.ofMinutes(1), 100)),
                false));
    }

    @Test
    void aFullHttpCheck() throws Exception {
        HealthPolicy policy = health(TCP, """
                healthCheck:
                  type: http
                  interval: 100ms
                  timeout: 100ms
                  rise: 3
                  fall: 2
                  port: 65535
                  path: /healthz?full=1
                  expectStatus: "200-204"
                """);
        assertThat(policy).isEqualTo(new HealthPolicy(
                Optional.of(new HealthCheck(Kind.HTTP, Duration.ofMillis(100), Duration.ofMillis(100), 3, 2, 65535,
                        "/healthz?full=1", new StatusRange(200, 204), false, false)),
                Optional.empty(), true));
    }

    @Test
    void oneStatusIsARangeOfOneWhetherYamlReadsItAsTextOrNumber() throws Exception {
        assertThat(health(TCP, "healthCheck: {type: http, expectStatus: 204}").check())
                .hasValueSatisfying(c -> assertThat(c.expectStatus()).isEqualTo(new StatusRange(204, 204)));
        assertThat(health(TCP, "healthCheck: {type: http, expectStatus: \"204\"}").check())
                .hasValueSatisfying(c -> assertThat(c.expectStatus()).isEqualTo(new StatusRange(204, 204)));
        assertThat(health(TCP, "healthCheck: {type: http}").check())
                .hasValueSatisfying(c -> assertThat(c.path()).isEqualTo("/"))
                .hasValueSatisfying(c -> assertThat(c.expectStatus()).isEqualTo(new StatusRange(200, 399)));
    }

    @Test
    void anUnsetTimeoutFollowsAShortIntervalDown() throws Exception {
        assertThat(health(TCP, "healthCheck: {type: tcp, interval: 300ms}").check())
                .hasValueSatisfying(c -> assertThat(c.timeout()).isEqualTo(Duration.ofMillis(300)));
        assertThat(health(TCP, "healthCheck: {type: tcp, interval: 1m}").check())
                .hasValueSatisfying(c -> assertThat(c.timeout()).isEqualTo(HealthCheck.DEFAULT_TIMEOUT));
    }

    @Test
    void anEmptyOutlierDetectionIsDetectionWithEveryDefault() throws Exception {
        HealthPolicy policy = health(TCP, "outlierDetection: {}");
        assertThat(policy).isEqualTo(new HealthPolicy(Optional.empty(), Optional.of(new OutlierDetection(5,
                Duration.ofSeconds(30), Duration.ofSeconds(300), 50)), true));
        assertThat(policy.enabled()).isTrue();
    }

    @Test
    void anUnsetMaxEjectionTimeRisesToALongBase() throws Exception {
        assertThat(health(TCP, "outlierDetection: {baseEjectionTime: 10m}").outlierDetection())
                .hasValue(new OutlierDetection(5, Duration.ofMinutes(10), Duration.ofMinutes(10), 50));
    }

    @Test
    void aUdpPortIsCheckedOverHttpOnATcpPortOrByItsTraffic() throws Exception {
        HealthPolicy policy = health(UDP, """
                healthCheck: {type: http, port: 8081, path: /ready}
                outlierDetection: {consecutiveConnectFailures: 2}
                """);
        assertThat(policy.check()).hasValue(new HealthCheck(Kind.HTTP, HealthCheck.DEFAULT_INTERVAL,
                HealthCheck.DEFAULT_TIMEOUT, 2, 3, 8081, "/ready", HealthCheck.DEFAULT_EXPECT_STATUS, false, false));
        assertThat(policy.outlierDetection()).hasValueSatisfying(o -> assertThat(o.consecutiveConnectFailures()).isEqualTo(2));
        // As proxyProtocol: none, a header that is not sent is no problem on UDP.
        assertThat(health(UDP, "healthCheck: {type: http, port: 8081, sendProxyProtocol: false}").check())
                .hasValueSatisfying(c -> assertThat(c.sendProxyProtocol()).isFalse());
    }

    static Stream<Arguments> singleErrors() {
        return Stream.of(
                error("unknown check key", TCP, "healthCheck: {type: tcp, intervall: 2s}", CHECK + ".intervall",
                        "unknown key 'intervall'"),
                error("check not a mapping", TCP, "healthCheck: tcp", CHECK, "must be a mapping"),
                error("unknown type", TCP, "healthCheck: {type: icmp, interval: 2s}", CHECK + ".type",
                        "unknown type 'icmp' (known: none, tcp, http)"),
                error("type spelt in capitals", TCP, "healthCheck: {type: TCP}", CHECK + ".type", "unknown type 'TCP'"),
                error("a key under type: none", TCP, "healthCheck: {type: none, rise: 2}", CHECK + ".rise",
                        "has no effect with type: none"),
                error("a key without a type", TCP, "healthCheck: {interval: 2s}", CHECK + ".interval",
                        "has no effect with type: none (the default: set type: tcp or http)"),
                error("interval below 100ms", TCP, "healthCheck: {type: tcp, interval: 99ms}", CHECK + ".interval",
                        "must be at least 100ms"),
                error("interval 0", TCP, "healthCheck: {type: tcp, interval: \"0\"}", CHECK + ".interval",
                        "must be at least 100ms"),
                error("interval not a duration", TCP, "healthCheck: {type: tcp, interval: 2}", CHECK + ".interval",
                        "'2' is not a duration"),
                error("timeout 0", TCP, "healthCheck: {type: tcp, timeout: \"0\"}", CHECK + ".timeout", "must be more than 0"),
                error("timeout above interval", TCP, "healthCheck: {type: tcp, interval: 1s, timeout: 2s}", CHECK + ".timeout",
                        "2s must not exceed interval (1s)"),
                error("rise 0", TCP, "healthCheck: {type: tcp, rise: 0}", CHECK + ".rise", "0 is out of range 1..100"),
                error("fall 101", TCP, "healthCheck: {type: tcp, fall: 101}", CHECK + ".fall", "101 is out of range 1..100"),
                error("rise not a number", TCP, "healthCheck: {type: tcp, rise: two}", CHECK + ".rise",
                        "must be a whole number from 1 to 100"),
                error("port 0", TCP, "healthCheck: {type: tcp, port: 0}", CHECK + ".port", "0 is out of range 1..65535"),
                error("port 65536", TCP, "healthCheck: {type: http, port: 65536}", CHECK + ".port", "out of range 1..65535"),
                error("path without slash", TCP, "healthCheck: {type: http, path: healthz}", CHECK + ".path",
                        "'healthz' must start with '/' and be printable ASCII without spaces"),
                error("path with a space", TCP, "healthCheck: {type: http, path: \"/a b\"}", CHECK + ".path",
                        "printable ASCII without spaces"),
                error("path with a CRLF", TCP, "healthCheck: {type: http, path: \"/a\\r\\nHost: x\"}", CHECK + ".path",
                        "printable ASCII without spaces"),
                error("path not ASCII", TCP, "healthCheck: {type: http, path: \"/caf\u00e9\"}", CHECK + ".path",
                        "printable ASCII"),
                error("path empty", TCP, "healthCheck: {type: http, path: \"\"}", CHECK + ".path", "must be a non-empty string"),
                error("path on a tcp check", TCP, "healthCheck: {type: tcp, path: /healthz}", CHECK + ".path",
                        "is for type: http only"),
                error("expectStatus on a tcp check", TCP, "healthCheck: {type: tcp, expectStatus: 200}",
                        CHECK + ".expectStatus", "is for type: http only"),
                error("expectStatus high to low", TCP, "healthCheck: {type: http, expectStatus: \"399-200\"}",
                        CHECK + ".expectStatus", "'399-200' is not a status or a range of them"),
                error("expectStatus below 100", TCP, "healthCheck: {type: http, expectStatus: \"099\"}",
                        CHECK + ".expectStatus", "(100..599, low to high)"),
                error("expectStatus above 599", TCP, "healthCheck: {type: http, expectStatus: 600}",
                        CHECK + ".expectStatus", "'600' is not a status"),
                error("expectStatus a list", TCP, "healthCheck: {type: http, expectStatus: [200, 204]}",
                        CHECK + ".expectStatus", "is not a status"),
                error("expectStatus with spaces", TCP, "healthCheck: {type: http, expectStatus: \"200 - 399\"}",
                        CHECK + ".expectStatus", "is not a status"),
                error("sendProxyProtocol without proxyProtocol", TCP, "healthCheck: {type: tcp, sendProxyProtocol: true}",
                        CHECK + ".sendProxyProtocol", "needs the port's proxyProtocol: v1 or v2"),
                error("sendProxyProtocol with proxyProtocol none", TCP + "\nproxyProtocol: none",
                        "healthCheck: {type: http, sendProxyProtocol: true}", CHECK + ".sendProxyProtocol",
                        "needs the port's proxyProtocol"),
                error("sendProxyProtocol with a misspelt proxyProtocol is reported once", TCP + "\nproxyProtocol: v3",
                        "healthCheck: {type: tcp, sendProxyProtocol: true}", PORT + ".proxyProtocol", "unknown proxyProtocol 'v3'"),
                error("sendProxyProtocol not a boolean", TCP, "healthCheck: {type: tcp, sendProxyProtocol: v2}",
                        CHECK + ".sendProxyProtocol", "must be true or false"),
                error("startDown not a boolean", TCP, "healthCheck: {type: tcp, startDown: 1}", CHECK + ".startDown",
                        "must be true or false"),
                error("tcp check on a UDP port", UDP, "healthCheck: {type: tcp}", CHECK + ".type",
                        "a tcp check connects to the traffic port, which is UDP here;"
                                + " use type: http with a TCP port:, or outlierDetection"),
                error("tcp check on another port of a UDP port", UDP, "healthCheck: {type: tcp, port: 8081}", CHECK + ".type",
                        "which is UDP here"),
                error("http check on a UDP port without port", UDP, "healthCheck: {type: http}", CHECK,
                        "missing key 'port': an http check on a UDP port needs the TCP port to check"),
                error("sendProxyProtocol on a UDP port", UDP, "healthCheck: {type: http, port: 8081, sendProxyProtocol: true}",
                        CHECK + ".sendProxyProtocol", "the PROXY protocol is TCP-only in l4lb"),
                error("unknown outlier key", TCP, "outlierDetection: {consecutiveFailures: 5}",
                        OUTLIERS + ".consecutiveFailures", "unknown key 'consecutiveFailures'"),
                error("outlierDetection not a mapping", TCP, "outlierDetection: true", OUTLIERS, "must be a mapping"),
                error("consecutiveConnectFailures 0", TCP, "outlierDetection: {consecutiveConnectFailures: 0}",
                        OUTLIERS + ".consecutiveConnectFailures", "0 is out of range 1..2147483647"),
                error("baseEjectionTime 0", TCP, "outlierDetection: {baseEjectionTime: \"0\"}",
                        OUTLIERS + ".baseEjectionTime", "must be more than 0"),
                error("baseEjectionTime not a duration", TCP, "outlierDetection: {baseEjectionTime: 30}",
                        OUTLIERS + ".baseEjectionTime", "'30' is not a duration"),
                error("maxEjectionTime below base", TCP, "outlierDetection: {baseEjectionTime: 1m, maxEjectionTime: 30s}",
                        OUTLIERS + ".maxEjectionTime", "30s must not be below baseEjectionTime (1m)"),
                error("maxEjectionTime below the default base", TCP, "outlierDetection: {maxEjectionTime: 10s}",
                        OUTLIERS + ".maxEjectionTime", "10s must not be below baseEjectionTime (30s)"),
                error("maxEjectionPercent 101", TCP, "outlierDetection: {maxEjectionPercent: 101}",
                        OUTLIERS + ".maxEjectionPercent", "101 is out of range 0..100"),
                error("failOpen not a boolean", TCP, "outlierDetection: {}\nfailOpen: \"no\"", PORT + ".failOpen",
                        "must be true or false"),
                error("failOpen without any health", TCP, "failOpen: false", PORT + ".failOpen",
                        "has no effect without a healthCheck or outlierDetection"),
                error("failOpen under type: none", TCP, "healthCheck: {type: none}\nfailOpen: false", PORT + ".failOpen",
                        "has no effect without a healthCheck or outlierDetection"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("singleErrors")
    void reportsEachMistakeAtItsPath(String name, String yaml, String path, String fragment) {
        OnePortConfigs.assertOneProblem(FILE, yaml, path, fragment);
    }

    @Test
    void everyMistakeInOneCheckIsReported() {
        List<ConfigProblem> problems = problems(onePort(TCP, """
                healthCheck: {type: tcp, interval: 10ms, rise: 0, fall: 0, path: /x}
                outlierDetection: {maxEjectionPercent: -1}
                """));
        assertThat(problems).extracting(ConfigProblem::path).containsExactlyInAnyOrder(CHECK + ".interval", CHECK + ".rise",
                CHECK + ".fall", CHECK + ".path", OUTLIERS + ".maxEjectionPercent");
    }

    @Test
    void eachPortOfAServiceHasItsOwnPolicyAndItsOwnPath() throws Exception {
        String twoPorts = """
                services:
                  - name: web
                    ports:
                      - {name: a, listen: ["127.0.0.1:8080"]}
                      - name: b
                        listen: ["127.0.0.1:8081"]
                        healthCheck: {type: tcp, rise: RISE}
                """;
        List<ServicePort> ports = ConfigLoader.parse(FILE, twoPorts.replace("RISE", "2")).services().get(0).ports();
        assertThat(ports.get(0).health()).isEqualTo(HealthPolicy.NONE);
        assertThat(ports.get(1).health().check()).hasValue(HealthCheck.tcpDefaults());

        List<ConfigProblem> problems = problems(twoPorts.replace("RISE", "101"));
        assertThat(problems).singleElement()
                .satisfies(p -> assertThat(p.toString()).isEqualTo(
                        "test.yaml: services[0].ports[1].healthCheck.rise: 101 is out of range 1..100"));
    }

    @Test
    void statusRangeParseReadsBothFormsAndRefusesTheRest() {
        assertThat(StatusRange.parse("200-399")).hasValue(new StatusRange(200, 399));
        assertThat(StatusRange.parse("204")).hasValue(new StatusRange(204, 204));
        assertThat(StatusRange.parse("100-599")).hasValue(new StatusRange(100, 599));
        assertThat(StatusRange.parse("204").orElseThrow()).hasToString("204");
        assertThat(StatusRange.parse("200-399").orElseThrow()).hasToString("200-399");
        for (String bad : List.of("", "2xx", "200-", "-399", "099", "600", "300-200", "2000", "200-3999", "\u0662\u0660\u0660")) {
            assertThat(StatusRange.parse(bad)).as(bad).isEmpty();
        }
    }

    /** The health policy of the one port of {@code lines}. */
    private static HealthPolicy health(String... lines) throws ConfigException {
        return ConfigLoader.parse(FILE, onePort(lines)).services().get(0).ports().get(0).health();
    }


    private static Arguments error(String name, String port, String health, String path, String fragment) {
        return Arguments.of(name, onePort(port, health), path, fragment);
    }

    private static List<ConfigProblem> problems(String yaml) {
        return OnePortConfigs.problems(FILE, yaml);
    }
}

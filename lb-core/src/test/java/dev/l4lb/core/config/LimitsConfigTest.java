package dev.l4lb.core.config;

import static dev.l4lb.core.config.OnePortConfigs.onePort;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import dev.l4lb.core.model.ClientLimits;
import dev.l4lb.core.model.Rate;

/** A port's limits (issue #18, part 2), read as users write them. */
class LimitsConfigTest {
    private static final String FILE = "test.yaml";
    private static final String LIMITS = "services[0].ports[0].limits";
    private static final String TCP = "listen: [\"127.0.0.1:8080\"]";
    private static final String UDP = "listen: [\"127.0.0.1:53\"]\nprotocol: UDP";

    @Test
    void withoutTheKeyAPortHasNoLimits() throws Exception {
        assertThat(limits(TCP)).isEqualTo(ClientLimits.NONE);
        assertThat(ClientLimits.NONE.any()).isFalse();
    }

    @Test
    void theIssuesExampleReadsAsWritten() throws Exception {
        ClientLimits limits = limits(TCP, """
                limits:
                  maxConnectionsPerClient: 100
                  connectionRatePerClient: 50/s
                  connectionRate: 5000/s
                  clientTableSize: 1000000
                  clientPrefixV6: 64
                """);
        assertThat(limits).isEqualTo(new ClientLimits(100, new Rate(50, TimeUnit.SECONDS), new Rate(5000, TimeUnit.SECONDS),
                1_000_000, 64));
        assertThat(limits.perClient()).isTrue();
    }

    @Test
    void ratesPerMinuteAndDefaultsForTheTable() throws Exception {
        ClientLimits limits = limits(UDP, "limits: {connectionRatePerClient: 600/m}");
        assertThat(limits.connectionRatePerClient()).isEqualTo(new Rate(600, TimeUnit.MINUTES));
        assertThat(limits.clientTableSize()).isEqualTo(ClientLimits.DEFAULT_CLIENT_TABLE_SIZE);
        assertThat(limits.clientPrefixV6()).isEqualTo(64);
        assertThat(limits(TCP, "limits: {connectionRate: 10/s}").perClient()).isFalse();
    }

    @Test
    void aRateAllowsOneSecondsWorthAtOnce() {
        assertThat(new Rate(50, TimeUnit.SECONDS).burst()).isEqualTo(50);
        assertThat(new Rate(600, TimeUnit.MINUTES).burst()).isEqualTo(10);
        assertThat(new Rate(5, TimeUnit.MINUTES).burst()).isEqualTo(1);
        assertThat(new Rate(50, TimeUnit.SECONDS).intervalNanos()).isEqualTo(20_000_000L);
        assertThat(Rate.parse("50/s").orElseThrow()).hasToString("50/s");
    }

    static Stream<Arguments> singleErrors() {
        return Stream.of(
                error("limits not a mapping", "limits: 100", LIMITS, "must be a mapping"),
                error("unknown key", "limits: {maxConnections: 5}", LIMITS + ".maxConnections", "unknown key 'maxConnections'"),
                error("maxConnectionsPerClient negative", "limits: {maxConnectionsPerClient: -1}",
                        LIMITS + ".maxConnectionsPerClient", "-1 is out of range 0..2147483647"),
                error("maxConnectionsPerClient not a number", "limits: {maxConnectionsPerClient: many}",
                        LIMITS + ".maxConnectionsPerClient", "must be a whole number"),
                error("rate without unit", "limits: {connectionRatePerClient: 50}",
                        LIMITS + ".connectionRatePerClient", "'50' is not a rate such as 50/s or 600/m"),
                error("rate per hour", "limits: {connectionRatePerClient: 50/h}",
                        LIMITS + ".connectionRatePerClient", "'50/h' is not a rate"),
                error("rate zero", "limits: {connectionRate: 0/s}", LIMITS + ".connectionRate", "'0/s' is not a rate"),
                error("rate negative", "limits: {connectionRate: \"-5/s\"}", LIMITS + ".connectionRate", "is not a rate"),
                error("rate too high", "limits: {connectionRate: 2000000/s}", LIMITS + ".connectionRate",
                        "(1 to 1000000 a second)"),
                error("rate a list", "limits: {connectionRate: [5/s]}", LIMITS + ".connectionRate", "is not a rate"),
                error("clientTableSize zero", "limits: {maxConnectionsPerClient: 1, clientTableSize: 0}",
                        LIMITS + ".clientTableSize", "0 is out of range 1..67108864"),
                error("clientTableSize too big", "limits: {maxConnectionsPerClient: 1, clientTableSize: 100000000}",
                        LIMITS + ".clientTableSize", "out of range 1..67108864"),
                error("clientPrefixV6 zero", "limits: {maxConnectionsPerClient: 1, clientPrefixV6: 0}",
                        LIMITS + ".clientPrefixV6", "0 is out of range 1..128"),
                error("clientPrefixV6 129", "limits: {maxConnectionsPerClient: 1, clientPrefixV6: 129}",
                        LIMITS + ".clientPrefixV6", "129 is out of range 1..128"),
                error("clientTableSize without a per-client limit", "limits: {connectionRate: 5/s, clientTableSize: 10}",
                        LIMITS + ".clientTableSize", "has no effect without maxConnectionsPerClient or connectionRatePerClient"),
                error("clientPrefixV6 without a per-client limit", "limits: {clientPrefixV6: 48}",
                        LIMITS + ".clientPrefixV6", "has no effect without"),
                error("empty", "limits: {}", LIMITS, "names no limit"));
    }

    @Test
    void bothForgottenSwitchesAreReported() {
        assertThat(problems(onePort(TCP, "limits: {connectionRate: 5/s, clientTableSize: 10, clientPrefixV6: 48}")))
                .extracting(ConfigProblem::path)
                .containsExactly(LIMITS + ".clientTableSize", LIMITS + ".clientPrefixV6");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("singleErrors")
    void reportsEachMistakeAtItsPath(String name, String yaml, String path, String fragment) {
        OnePortConfigs.assertOneProblem(FILE, yaml, path, fragment);
    }

    @Test
    void everyMistakeInTheLimitsIsReported() {
        List<ConfigProblem> problems = problems(onePort(TCP,
                "limits: {maxConnectionsPerClient: -1, connectionRatePerClient: fast, connectionRate: 1/d, clientPrefixV6: 200}"));
        assertThat(problems).extracting(ConfigProblem::path).containsExactlyInAnyOrder(LIMITS + ".maxConnectionsPerClient",
                LIMITS + ".connectionRatePerClient", LIMITS + ".connectionRate", LIMITS + ".clientPrefixV6");
    }

    private static ClientLimits limits(String... lines) throws ConfigException {
        return ConfigLoader.parse(FILE, onePort(lines)).services().get(0).ports().get(0).policy().limits();
    }


    private static Arguments error(String name, String limits, String path, String fragment) {
        return Arguments.of(name, onePort(TCP, limits), path, fragment);
    }

    private static List<ConfigProblem> problems(String yaml) {
        return OnePortConfigs.problems(FILE, yaml);
    }
}

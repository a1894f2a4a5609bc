package dev.l4lb.netty.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.ZoneOffset;
import java.util.List;

import tools.jackson.core.JacksonException;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import dev.l4lb.netty.cli.IpvsListing.Layout;

/**
 * The listing against text laid out with ipvsadm.c's own printf formats. ipvsadm pads its last column
 * ({@code %-10u}), so the endpoint lines of the default layout end in blanks; {@code \s} marks the last one.
 */
class IpvsListingTest {
    /** The example of the admin API contract, as the balancer sends it. */
    static final String CONTRACT_EXAMPLE = """
            {
              "version": "0.1.0-SNAPSHOT",
              "transport": "io_uring",
              "lastUpdated": "2026-11-24T19:40:00.123Z",
              "currentTime": "2026-11-24T19:41:02.000Z",
              "rateIntervalSeconds": 2,
              "services": [ {
                 "service": "demo/echo",
                 "port": "http",
                 "protocol": "TCP",
                 "listen": ["127.0.0.1:8080", "[::1]:8080"],
                 "scheduler": "rr",
                 "sessionAffinity": "ClientIP",
                 "affinityTimeoutSeconds": 10800,
                 "affinityEntries": 3,
                 "proxyProtocol": "v2",
                 "forward": "PPv2",
                 "active": 3,
                 "connections": 123,
                 "outcomes": {"ok": 120, "connect_failed": 1, "no_endpoint": 0, "refused_limit": 0,
                              "denied_source": 2, "untrusted_upstream": 0, "bad_proxy_header": 0, "idle_timeout": 0},
                 "bytesIn": 123456,
                 "bytesOut": 654321,
                 "rate": {"connections": 1.5, "bytesIn": 2048.0, "bytesOut": 4096.0},
                 "endpoints": [ {
                    "address": "127.0.0.1:9001",
                    "weight": 1,
                    "state": "up",
                    "active": 3,
                    "inactive": 0,
                    "connections": 120,
                    "connectFailures": 0,
                    "bytesIn": 1000,
                    "bytesOut": 2000,
                    "rate": {"connections": 0.5, "bytesIn": 100.0, "bytesOut": 200.0},
                    "lastError": null
                 } ]
              } ]
            }
            """;

    /**
     * An IPv6-only service with counters past every abbreviation threshold and a drained endpoint, then a
     * port on three addresses with affinity and no endpoints.
     */
    private static final String BUSY = """
            {
              "version": "0.2.0",
              "transport": "epoll",
              "rateIntervalSeconds": 2,
              "services": [ {
                 "service": "demo/web", "port": "", "protocol": "TCP",
                 "listen": ["[2001:db8::10]:443"],
                 "scheduler": "wlc", "sessionAffinity": "None", "affinityTimeoutSeconds": null,
                 "proxyProtocol": "v1", "forward": "PPv1",
                 "connections": 250000000, "bytesIn": 123456789012, "bytesOut": 98765432109876,
                 "rate": {"connections": 12.4, "bytesIn": 1500000000.0, "bytesOut": 987654.4},
                 "endpoints": [
                   {"address": "[2001:db8::a]:8443", "weight": 3, "state": "up", "active": 12, "inactive": 2,
                    "connections": 150000000, "bytesIn": 100000000000, "bytesOut": 99999999,
                    "rate": {"connections": 7.6, "bytesIn": 999999999.0, "bytesOut": 100000000.0}},
                   {"address": "10.0.0.2:8443", "weight": 0, "state": "drained", "active": 0, "inactive": 0,
                    "connections": 100000000, "bytesIn": 123456789012345, "bytesOut": 0,
                    "rate": {"connections": 0.0, "bytesIn": 0.0, "bytesOut": 0.0}}
                 ]
              }, {
                 "service": "demo/idle", "port": "", "protocol": "TCP",
                 "listen": ["10.0.0.1:7000", "10.0.0.2:7000", "[fd00::1]:7000"],
                 "scheduler": "rr", "sessionAffinity": "ClientIP", "affinityTimeoutSeconds": 60,
                 "proxyProtocol": "none", "forward": "Proxy",
                 "connections": 0, "bytesIn": 0, "bytesOut": 0,
                 "rate": {"connections": 0.0, "bytesIn": 0.0, "bytesOut": 0.0},
                 "endpoints": []
              } ]
            }
            """;

    @Test
    void theContractExampleReadsLikeIpvsadmLn() {
        String expected = """
                l4lb 0.1.0-SNAPSHOT userspace proxy (transport io_uring)
                Prot LocalAddress:Port Scheduler Flags
                  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
                TCP  127.0.0.1:8080 rr persistent 10800
                     [::1]:8080
                  -> 127.0.0.1:9001               PPv2    1      3          0        \s
                """;
        assertThat(render(CONTRACT_EXAMPLE, Layout.CONNECTIONS, false)).isEqualTo(expected);
        assertThat(render(CONTRACT_EXAMPLE, Layout.CONNECTIONS, true)).as("no large numbers in this layout").isEqualTo(expected);
    }

    @Test
    void aPortsLimitsAreAFlag() {
        String limited = CONTRACT_EXAMPLE.replace("\"forward\": \"PPv2\",", "\"forward\": \"PPv2\", \"limits\": {"
                + "\"maxConnectionsPerClient\": 100, \"connectionRatePerClient\": \"50/s\", \"connectionRate\": \"5000/s\","
                + " \"clientTableSize\": 1000000, \"clientPrefixV6\": 64, \"clients\": 12, \"evictions\": 0},");
        assertThat(render(limited, Layout.CONNECTIONS, false))
                .contains("TCP  127.0.0.1:8080 rr persistent 10800 limits 100/client 50/s/client 5000/s\n");
        String portRateOnly = CONTRACT_EXAMPLE.replace("\"forward\": \"PPv2\",", "\"forward\": \"PPv2\", \"limits\": {"
                + "\"maxConnectionsPerClient\": 0, \"connectionRatePerClient\": null, \"connectionRate\": \"10/m\"},");
        assertThat(render(portRateOnly, Layout.CONNECTIONS, false)).contains("rr persistent 10800 limits 10/m\n");
    }

    @Test
    void theContractExampleWithStats() {
        assertThat(render(CONTRACT_EXAMPLE, Layout.STATS, false)).isEqualTo("""
                l4lb 0.1.0-SNAPSHOT userspace proxy (transport io_uring)
                Prot LocalAddress:Port               Conns  InBytes OutBytes
                  -> RemoteAddress:Port
                TCP  127.0.0.1:8080                    123   123456   654321
                     [::1]:8080
                  -> 127.0.0.1:9001                    120     1000     2000
                """);
    }

    @Test
    void theContractExampleWithRatesRoundedToWholeNumbers() {
        assertThat(render(CONTRACT_EXAMPLE, Layout.RATE, false)).isEqualTo("""
                l4lb 0.1.0-SNAPSHOT userspace proxy (transport io_uring)
                Prot LocalAddress:Port                 CPS    InBPS   OutBPS
                  -> RemoteAddress:Port
                TCP  127.0.0.1:8080                      2     2048     4096
                     [::1]:8080
                  -> 127.0.0.1:9001                      1      100      200
                """);
    }

    @Test
    void ipv6ServicesDrainedEndpointsSeveralAddressesAndNoEndpoints() {
        assertThat(render(BUSY, Layout.CONNECTIONS, false)).isEqualTo("""
                l4lb 0.2.0 userspace proxy (transport epoll)
                Prot LocalAddress:Port Scheduler Flags
                  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
                TCP  [2001:db8::10]:443 wlc
                  -> [2001:db8::a]:8443           PPv1    3      12         2        \s
                  -> 10.0.0.2:8443                PPv1    0      0          0        \s
                TCP  10.0.0.1:7000 rr persistent 60
                     10.0.0.2:7000
                     [fd00::1]:7000
                """);
    }

    @Test
    void portsSharingAListenerByServerNameShowTheirNames() {
        String json = """
                {"version": "1", "transport": "nio", "services": [ {
                   "service": "shop/web", "port": "", "protocol": "TCP", "listen": ["0.0.0.0:443"],
                   "serverNames": ["shop.example", "*.shop.example"],
                   "scheduler": "rr", "sessionAffinity": "None", "forward": "Proxy", "endpoints": []
                 }, {
                   "service": "plain/web", "port": "", "protocol": "TCP", "listen": ["0.0.0.0:80"],
                   "serverNames": [], "scheduler": "rr", "sessionAffinity": "None", "forward": "Proxy", "endpoints": []
                 } ]}
                """;
        assertThat(render(json, Layout.CONNECTIONS, false).lines().skip(3).toList()).containsExactly(
                "TCP  0.0.0.0:443 rr sni shop.example *.shop.example",
                "TCP  0.0.0.0:80 rr");
    }

    @Test
    void endpointsThatTakeNoNewConnectionsShowWeightZeroAsKubeProxysIpvsModeSetsIt() {
        String json = """
                {"version": "1", "transport": "nio", "services": [ {
                   "service": "demo/web", "port": "http", "protocol": "TCP", "listen": ["127.0.0.1:80"],
                   "scheduler": "rr", "sessionAffinity": "None", "forward": "Proxy",
                   "endpoints": [
                     {"address": "127.0.0.1:1", "weight": 5, "state": "up", "active": 1, "inactive": 0},
                     {"address": "127.0.0.1:2", "weight": 5, "state": "terminating", "active": 2, "inactive": 0},
                     {"address": "127.0.0.1:3", "weight": 5, "state": "down", "active": 0, "inactive": 0}
                   ]} ]}
                """;
        assertThat(render(json, Layout.CONNECTIONS, false).lines().skip(4).toList()).containsExactly(
                "  -> 127.0.0.1:1                  Proxy   5      1          0         ",
                "  -> 127.0.0.1:2                  Proxy   0      2          0         ",
                "  -> 127.0.0.1:3                  Proxy   0      0          0         ");
    }

    /** A port with a check and outlier detection, failing open: one endpoint down, one ejected; then a port without. */
    private static final String HEALTH = """
            {"version": "1", "transport": "nio", "services": [ {
               "service": "demo/web", "port": "http", "protocol": "TCP", "listen": ["127.0.0.1:80"],
               "scheduler": "rr", "sessionAffinity": "None", "forward": "Proxy",
               "health": {"check": {"type": "tcp", "intervalSeconds": 2.0}, "outlierDetection": {"consecutiveConnectFailures": 5},
                          "failOpen": true, "failingOpen": true, "allOut": true, "failOpenEntered": 2},
               "endpoints": [
                 {"address": "127.0.0.1:1", "weight": 5, "state": "up", "active": 1, "inactive": 0,
                  "health": {"state": "down", "inService": true, "ejectedUntil": null,
                             "lastFailure": {"time": "2026-11-24T12:02:58Z", "message": "connect refused"}}},
                 {"address": "127.0.0.1:2", "weight": 5, "state": "up", "active": 0, "inactive": 0,
                  "health": {"state": "ejected", "inService": true, "ejectedUntil": "2026-11-24T12:03:04.250Z",
                             "lastFailure": {"time": "2026-11-24T12:02:34Z", "message": "connect timed out"}}}
               ]}, {
               "service": "demo/db", "port": "", "protocol": "TCP", "listen": ["127.0.0.1:5432"],
               "scheduler": "rr", "sessionAffinity": "None", "forward": "Proxy",
               "health": {"check": null, "outlierDetection": null, "failOpen": true, "failingOpen": false,
                          "allOut": false, "failOpenEntered": 0},
               "endpoints": [
                 {"address": "127.0.0.1:3", "weight": 1, "state": "up", "active": 0, "inactive": 0,
                  "health": {"state": "up", "inService": true, "ejectedUntil": null, "lastFailure": null}}
               ]} ]}
            """;

    @Test
    void healthIsAColumnAndTheFlagsSayWhatChecksAndThatThePortFailsOpen() {
        assertThat(render(HEALTH, Layout.CONNECTIONS, false).lines().skip(1).toList()).containsExactly(
                "Prot LocalAddress:Port Scheduler Flags",
                "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn Health",
                "TCP  127.0.0.1:80 rr check tcp 2s outlier FAILING OPEN (2 times)",
                "  -> 127.0.0.1:1                  Proxy   5      1          0          down (connect refused)",
                "  -> 127.0.0.1:2                  Proxy   5      0          0          ejected until 12:03:04 (connect timed out)",
                "TCP  127.0.0.1:5432 rr",
                "  -> 127.0.0.1:3                  Proxy   1      0          0          up");
    }

    @Test
    void anEndpointOutOfServiceByItsHealthShowsWeightZeroAndAPortThatFailedOpenBeforeSaysSo() {
        String json = HEALTH.replace("\"failingOpen\": true", "\"failingOpen\": false")
                .replace("\"inService\": true, \"ejectedUntil\": null,", "\"inService\": false, \"ejectedUntil\": null,")
                .replace("\"failOpenEntered\": 2", "\"failOpenEntered\": 1");
        List<String> lines = render(json, Layout.CONNECTIONS, false).lines().toList();
        assertThat(lines.get(3)).isEqualTo("TCP  127.0.0.1:80 rr check tcp 2s outlier failed open 1 time");
        assertThat(lines.get(4)).startsWith("  -> 127.0.0.1:1                  Proxy   0      1");
    }

    @Test
    void theStatsAndRateListingsHaveNoHealthColumn() {
        assertThat(render(HEALTH, Layout.STATS, false)).doesNotContain("check", "FAILING", "down", "ejected");
    }

    @Test
    void statsAbbreviateAsIpvsadmDoes() {
        assertThat(render(BUSY, Layout.STATS, false)).isEqualTo("""
                l4lb 0.2.0 userspace proxy (transport epoll)
                Prot LocalAddress:Port               Conns  InBytes OutBytes
                  -> RemoteAddress:Port
                TCP  [2001:db8::10]:443            250000K     123G   98765G
                  -> [2001:db8::a]:8443            150000K     100G 99999999
                  -> 10.0.0.2:8443                 100000K     123T        0
                TCP  10.0.0.1:7000                       0        0        0
                     10.0.0.2:7000
                     [fd00::1]:7000
                """);
    }

    @Test
    void exactStatsPrintEveryDigitAndPushTheColumnsRight() {
        assertThat(render(BUSY, Layout.STATS, true)).isEqualTo("""
                l4lb 0.2.0 userspace proxy (transport epoll)
                Prot LocalAddress:Port               Conns  InBytes OutBytes
                  -> RemoteAddress:Port
                TCP  [2001:db8::10]:443           250000000 123456789012 98765432109876
                  -> [2001:db8::a]:8443           150000000 100000000000 99999999
                  -> 10.0.0.2:8443                100000000 123456789012345        0
                TCP  10.0.0.1:7000                       0        0        0
                     10.0.0.2:7000
                     [fd00::1]:7000
                """);
    }

    @Test
    void ratesAbbreviateExceptAnEndpointsCpsAsIpvsadmDoes() {
        assertThat(render(BUSY, Layout.RATE, false)).isEqualTo("""
                l4lb 0.2.0 userspace proxy (transport epoll)
                Prot LocalAddress:Port                 CPS    InBPS   OutBPS
                  -> RemoteAddress:Port
                TCP  [2001:db8::10]:443                 12    1500M   987654
                  -> [2001:db8::a]:8443                  8  999999K  100000K
                  -> 10.0.0.2:8443                       0        0        0
                TCP  10.0.0.1:7000                       0        0        0
                     10.0.0.2:7000
                     [fd00::1]:7000
                """);
        assertThat(render(BUSY, Layout.RATE, true)).isEqualTo("""
                l4lb 0.2.0 userspace proxy (transport epoll)
                Prot LocalAddress:Port                 CPS    InBPS   OutBPS
                  -> RemoteAddress:Port
                TCP  [2001:db8::10]:443                 12 1500000000   987654
                  -> [2001:db8::a]:8443                  8 999999999 100000000
                  -> 10.0.0.2:8443                       0        0        0
                TCP  10.0.0.1:7000                       0        0        0
                     10.0.0.2:7000
                     [fd00::1]:7000
                """);
    }

    @Test
    void aBalancerWithoutServicesPrintsTheHeadersOnly() {
        String empty = """
                {"version": "0.1.0", "transport": "nio", "services": []}
                """;
        assertThat(render(empty, Layout.CONNECTIONS, false)).isEqualTo("""
                l4lb 0.1.0 userspace proxy (transport nio)
                Prot LocalAddress:Port Scheduler Flags
                  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
                """);
    }

    @ParameterizedTest
    @CsvSource({
        "0,                   '        0'",
        "99999999,            ' 99999999'",
        "100000000,           '  100000K'",
        "999999999,           '  999999K'",
        "1000000000,          '    1000M'",
        "99999999999,         '   99999M'",
        "100000000000,        '     100G'",
        "99999999999999,      '   99999G'",
        "100000000000000,     '     100T'",
        "9223372036854775807, ' 9223372T'",
    })
    void largeNumbersFollowPrintLargenum(long n, String printed) {
        assertThat(IpvsListing.largeNumber(n, false)).isEqualTo(printed);
    }

    @ParameterizedTest
    @CsvSource({
        "0,                   '        0'",
        "12345678,            ' 12345678'",
        "123456789,           ' 123456789'",
        "9223372036854775807, ' 9223372036854775807'",
    })
    void exactNumbersWidenTheirColumnButKeepABlankBefore(long n, String printed) {
        assertThat(IpvsListing.largeNumber(n, true)).isEqualTo(printed);
    }

    private static String render(String json, Layout layout, boolean exact) {
        try {
            JsonNode api = new ObjectMapper().readTree(json);
            return IpvsListing.render(api, layout, exact, ZoneOffset.UTC);
        } catch (JacksonException e) {
            throw new AssertionError("the fixture is not JSON", e);
        }
    }
}

package dev.l4lb.core.model;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class AddressesTest {

    @Test
    void parsesIpv4DottedQuads() throws Exception {
        assertThat(Addresses.parseIp("10.0.0.1")).contains(InetAddress.getByAddress(new byte[] {10, 0, 0, 1}));
        assertThat(Addresses.parseIp("0.0.0.0").orElseThrow().isAnyLocalAddress()).isTrue();
        assertThat(Addresses.parseIp("255.255.255.255").orElseThrow().getAddress())
                .containsExactly(-1, -1, -1, -1);
    }

    @Test
    void parsesIpv6Literals() {
        assertThat(Addresses.parseIp("::1").orElseThrow())
                .isInstanceOf(Inet6Address.class)
                .matches(InetAddress::isLoopbackAddress);
        assertThat(Addresses.parseIp("::").orElseThrow().isAnyLocalAddress()).isTrue();
        assertThat(Addresses.parseIp("FD00:0:0::AB").orElseThrow().getAddress()[15]).isEqualTo((byte) 0xab);
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "01.2.3.4", "1.2.3.04", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.-4", "1..2.3",
        "localhost", "example.com", "fe80::1%eth0", "fe80::1%1", "[::1]", "1:2", "::1::2", "gg::1",
        "\u0661.2.3.4", "\uff11::1"})
    void rejectsWhatIsNotExactlyAnIpLiteral(String text) {
        // Leading zeros are octal to some tools, zone ids are host-local, names would need DNS.
        assertThat(Addresses.parseIp(text)).isEmpty();
    }

    @Test
    void parsesHostPortWithAndWithoutBrackets() throws Exception {
        assertThat(Addresses.parseHostPort("127.0.0.1:8080"))
                .contains(new InetSocketAddress(InetAddress.getByName("127.0.0.1"), 8080));
        assertThat(Addresses.parseHostPort("[::1]:80"))
                .contains(new InetSocketAddress(InetAddress.getByName("::1"), 80));
        assertThat(Addresses.parseHostPort("1.2.3.4:0").orElseThrow().getPort()).isZero();
        assertThat(Addresses.parseHostPort("1.2.3.4:65535").orElseThrow().getPort()).isEqualTo(65535);
    }

    @ParameterizedTest
    @ValueSource(strings = {"1.2.3.4", "1.2.3.4:", "1.2.3.4:65536", "1.2.3.4:-1", "1.2.3.4:http", "::1:80",
        "[::1]", "[::1]80", "[::1:80", "[1.2.3.4]:80", "localhost:80", "1.2.3.4:\u0668\u0660"})
    void rejectsMalformedHostPort(String text) {
        // "::1:80" is ambiguous without brackets; "\u0668\u0660" is 80 in Arabic-Indic digits.
        assertThat(Addresses.parseHostPort(text)).isEmpty();
    }

    @Test
    void parsePortTakesAsciiDigitsOnly() {
        assertThat(Addresses.parsePort("0")).isZero();
        assertThat(Addresses.parsePort("443")).isEqualTo(443);
        assertThat(Addresses.parsePort("65536")).isEqualTo(-1);
        assertThat(Addresses.parsePort("")).isEqualTo(-1);
        assertThat(Addresses.parsePort("+80")).isEqualTo(-1);
        assertThat(Addresses.parsePort("\u0668\u0660")).isEqualTo(-1);
    }

    @ParameterizedTest
    @ValueSource(strings = {"127.0.0.1:8080", "0.0.0.0:1", "[::1]:80", "[fd00::1]:65535", "[::]:8080"})
    void formatReadsBackToTheSameAddress(String text) {
        InetSocketAddress address = Addresses.parseHostPort(text).orElseThrow();
        String formatted = Addresses.format(address);
        assertThat(Addresses.parseHostPort(formatted)).contains(address);
        if (text.startsWith("[")) {
            // IPv6 comes out in the JDK's uncompressed form, but always bracketed so the port is unambiguous.
            assertThat(formatted).startsWith("[").endsWith("]:" + address.getPort());
        } else {
            assertThat(formatted).isEqualTo(text);
        }
    }

    @Test
    void formatIpHasNoBracketsAndNoScope() throws Exception {
        assertThat(Addresses.formatIp(InetAddress.getByName("::1"))).isEqualTo("::1");
        assertThat(Addresses.formatIp(Inet6Address.getByAddress(null, InetAddress.getByName("fe80::1").getAddress(), 3)))
                .isEqualTo("fe80::1");
        // RFC 5952: lowercase, no leading zeros, the longest zero run compressed (the first on a tie),
        // a single zero group never compressed.
        assertThat(Addresses.formatIp(InetAddress.getByName("::"))).isEqualTo("::");
        assertThat(Addresses.formatIp(InetAddress.getByName("2001:DB8:0:0:1:0:0:1"))).isEqualTo("2001:db8::1:0:0:1");
        assertThat(Addresses.formatIp(InetAddress.getByName("2001:db8:0:1:1:1:1:1"))).isEqualTo("2001:db8:0:1:1:1:1:1");
        assertThat(Addresses.formatIp(InetAddress.getByName("2001:0:0:1:0:0:0:1"))).isEqualTo("2001:0:0:1::1");
        assertThat(Addresses.formatIp(InetAddress.getByName("fd00:0:0:0:0:0:0:0"))).isEqualTo("fd00::");
        assertThat(Addresses.formatIp(Inet4Address.getByAddress(new byte[] {10, 1, 2, 3}))).isEqualTo("10.1.2.3");
    }

    /**
     * The JDK parses text as a literal only when it starts with a hex digit or ':'; anything else
     * goes to the resolver. A child JVM with its own hosts file (jdk.net.hosts.file) makes such a
     * lookup visible: if parseIp asked the resolver, it would return the mapped address.
     */
    @Test
    void neverAsksTheResolver(@TempDir Path dir) throws IOException, InterruptedException {
        Path hosts = dir.resolve("hosts");
        Files.writeString(hosts, "10.1.2.3 .:1\n10.1.2.4 .::1\n10.1.2.5 probe\n");
        Path probe = dir.resolve("Probe.java");
        Files.writeString(probe, """
                public class Probe {
                    public static void main(String[] args) throws Exception {
                        System.out.println("probe=" + java.net.InetAddress.getByName("probe").getHostAddress());
                        for (String text : new String[] {".:1", ".::1"}) {
                            System.out.println(text + "=" + dev.l4lb.core.model.Addresses.parseIp(text));
                        }
                    }
                }
                """);
        String classes = Paths.get(Addresses.class.getProtectionDomain().getCodeSource().getLocation().getPath())
                .toString();
        String java = Paths.get(System.getProperty("java.home"), "bin", "java").toString();
        Process process = new ProcessBuilder(List.of(java, "-Djdk.net.hosts.file=" + hosts, "-cp", classes,
                probe.toString())).redirectErrorStream(true).start();
        assertThat(process.waitFor(2, TimeUnit.MINUTES)).isTrue();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);

        assertThat(output).contains("probe=10.1.2.5"); // the hosts file is in effect, so the check below means something
        assertThat(output).contains(".:1=Optional.empty", ".::1=Optional.empty").doesNotContain("10.1.2.3", "10.1.2.4");
    }
}

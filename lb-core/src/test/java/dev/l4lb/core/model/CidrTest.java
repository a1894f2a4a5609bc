package dev.l4lb.core.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetAddress;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class CidrTest {

    private static Cidr cidr(String text) {
        return Cidr.parse(text).orElseThrow(() -> new AssertionError("not parsed: " + text));
    }

    private static InetAddress ip(String text) {
        return Addresses.parseIp(text).orElseThrow();
    }

    @Test
    void ipv4Prefixes() {
        assertThat(cidr("0.0.0.0/0").contains(ip("203.0.113.7"))).isTrue();

        Cidr ten = cidr("10.0.0.0/8");
        assertThat(ten.contains(ip("10.255.255.255"))).isTrue();
        assertThat(ten.contains(ip("11.0.0.0"))).isFalse();

        Cidr host = cidr("192.168.1.1/32");
        assertThat(host.contains(ip("192.168.1.1"))).isTrue();
        assertThat(host.contains(ip("192.168.1.2"))).isFalse();
    }

    /**
     * IPv4 containment compares hashCode()s, which the JDK makes the address itself: every prefix
     * length against addresses just inside and just outside, both signs of the top bit, agrees
     * with a byte-by-byte reading.
     */
    @Test
    void ipv4ContainmentAgreesWithTheBytesAtEveryPrefixLength() {
        assertThat(ip("192.0.2.1").hashCode()).as("the JDK's Inet4Address.hashCode() is its address").isEqualTo(0xC0000201);
        for (String base : new String[] {"10.20.30.40", "203.0.113.129", "255.255.255.255", "0.0.0.0"}) {
            long value = Integer.toUnsignedLong(ip(base).hashCode());
            for (int length = 0; length <= 32; length++) {
                Cidr cidr = cidr(base + "/" + length);
                long hostBits = length == 32 ? 0 : (1L << (32 - length)) - 1;
                long first = value & ~hostBits & 0xFFFFFFFFL;
                long last = first | hostBits;
                assertThat(cidr.contains(v4(first))).as("%s/%d first", base, length).isTrue();
                assertThat(cidr.contains(v4(last))).as("%s/%d last", base, length).isTrue();
                if (first > 0) {
                    assertThat(cidr.contains(v4(first - 1))).as("%s/%d before", base, length).isFalse();
                }
                if (last < 0xFFFFFFFFL) {
                    assertThat(cidr.contains(v4(last + 1))).as("%s/%d after", base, length).isFalse();
                }
            }
        }
    }

    private static InetAddress v4(long value) {
        return ip(((value >> 24) & 0xFF) + "." + ((value >> 16) & 0xFF) + "." + ((value >> 8) & 0xFF) + "." + (value & 0xFF));
    }

    @Test
    void oddIpv4PrefixMasksPartOfAByte() {
        // /23 covers 10.0.2.0..10.0.3.255: the third byte is compared on its top 7 bits only.
        Cidr cidr = cidr("10.0.2.0/23");
        assertThat(cidr.contains(ip("10.0.2.0"))).isTrue();
        assertThat(cidr.contains(ip("10.0.3.255"))).isTrue();
        assertThat(cidr.contains(ip("10.0.1.255"))).isFalse();
        assertThat(cidr.contains(ip("10.0.4.0"))).isFalse();
    }

    @Test
    void aBareAddressIsAHostPrefix() {
        assertThat(cidr("10.1.2.3")).isEqualTo(new Cidr(ip("10.1.2.3"), 32));
        assertThat(cidr("::1").prefixLength()).isEqualTo(128);
    }

    @Test
    void ipv6Prefixes() {
        Cidr net = cidr("fd00:1:2:3::/64");
        assertThat(net.contains(ip("fd00:1:2:3:ffff::1"))).isTrue();
        assertThat(net.contains(ip("fd00:1:2:4::1"))).isFalse();

        Cidr host = cidr("fd00::1/128");
        assertThat(host.contains(ip("fd00::1"))).isTrue();
        assertThat(host.contains(ip("fd00::2"))).isFalse();
    }

    @Test
    void anIpv4AddressIsNeverInAnIpv6PrefixNorTheReverse() {
        assertThat(cidr("::/0").contains(ip("10.0.0.1"))).isFalse();
        assertThat(cidr("0.0.0.0/0").contains(ip("::1"))).isFalse();
    }

    @ParameterizedTest
    @ValueSource(strings = {"10.0.0.0/33", "10.0.0.0/-1", "10.0.0.0/", "10.0.0.0/x", "::/129", "10.0.0/8",
        "host/8", "10.0.0.0/8/8", ""})
    void rejectsBadPrefixes(String text) {
        assertThat(Cidr.parse(text)).isEmpty();
    }

    @Test
    void constructorChecksThePrefixLengthForTheFamily() {
        assertThatThrownBy(() -> new Cidr(ip("10.0.0.0"), 33)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new Cidr(ip("::"), 129)).isInstanceOf(IllegalArgumentException.class);
        assertThat(new Cidr(ip("::"), 128).prefixLength()).isEqualTo(128);
    }

    @Test
    void printsTheFormItParses() {
        assertThat(cidr("10.0.0.0/8")).hasToString("10.0.0.0/8");
        assertThat(Cidr.parse(cidr("fd00::/8").toString())).contains(cidr("fd00::/8"));
    }
}

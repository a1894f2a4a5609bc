package dev.l4lb.core.model;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.util.List;
import java.util.Optional;

/** An IPv4 or IPv6 prefix such as {@code 10.0.0.0/8} or {@code fd00::/8}. */
public record Cidr(InetAddress network, int prefixLength) {

    public Cidr {
        int bits = network.getAddress().length * 8;
        if (prefixLength < 0 || prefixLength > bits) {
            throw new IllegalArgumentException("prefix length " + prefixLength + " out of 0.." + bits);
        }
    }

    /** {@code a.b.c.d/n}, {@code x::y/n}, or a bare address (a host prefix); empty when malformed. */
    public static Optional<Cidr> parse(String text) {
        int slash = text.indexOf('/');
        String ip = slash < 0 ? text : text.substring(0, slash);
        Optional<InetAddress> address = Addresses.parseIp(ip);
        if (address.isEmpty()) {
            return Optional.empty();
        }
        int bits = address.get().getAddress().length * 8;
        int prefix = bits;
        if (slash >= 0) {
            String length = text.substring(slash + 1);
            prefix = Addresses.parsePort(length);
            if (prefix < 0 || prefix > bits) {
                return Optional.empty();
            }
        }
        return Optional.of(new Cidr(address.get(), prefix));
    }

    /** True when one of the ranges contains the address. */
    public static boolean anyContains(List<Cidr> ranges, InetAddress address) {
        for (Cidr range : ranges) {
            if (range.contains(address)) {
                return true;
            }
        }
        return false;
    }

    /** True when the address lies inside this prefix; an IPv4 address never matches an IPv6 prefix. */
    public boolean contains(InetAddress address) {
        // Per connection where source ranges apply: IPv4 is compared as ints, without
        // getAddress()'s copies (an Inet4Address's hashCode() is its address, since JDK 1.0;
        // CidrTest pins it), and the other family is told apart without them. IPv6 copies.
        boolean v4 = address instanceof Inet4Address;
        if (v4 != network instanceof Inet4Address) {
            return false;
        }
        if (v4) {
            int mask = prefixLength == 0 ? 0 : -1 << (32 - prefixLength);
            return (address.hashCode() & mask) == (network.hashCode() & mask);
        }
        byte[] net = network.getAddress();
        byte[] candidate = address.getAddress(); // both IPv6 here: the families matched above
        int full = prefixLength / 8;
        for (int i = 0; i < full; i++) {
            if (net[i] != candidate[i]) {
                return false;
            }
        }
        int rest = prefixLength % 8;
        if (rest == 0) {
            return true;
        }
        int mask = 0xFF << (8 - rest);
        return (net[full] & mask) == (candidate[full] & mask);
    }

    @Override
    public String toString() {
        return Addresses.formatIp(network) + "/" + prefixLength;
    }
}

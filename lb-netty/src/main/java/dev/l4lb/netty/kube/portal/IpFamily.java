package dev.l4lb.netty.kube.portal;

import java.net.Inet6Address;
import java.net.InetAddress;

/** IPv4 or IPv6, each with its own iptables tools, host prefix and wildcard, as the portals program them. */
enum IpFamily {
    IPV4("iptables", "iptables-restore", "-4", 32, "0.0.0.0/0"),
    IPV6("ip6tables", "ip6tables-restore", "-6", 128, "::/0");

    private final String iptables;
    private final String restore;
    private final String ipFlag;
    private final int hostPrefix;
    private final String everything;

    IpFamily(String iptables, String restore, String ipFlag, int hostPrefix, String everything) {
        this.iptables = iptables;
        this.restore = restore;
        this.ipFlag = ipFlag;
        this.hostPrefix = hostPrefix;
        this.everything = everything;
    }

    static IpFamily of(InetAddress address) {
        return address instanceof Inet6Address ? IPV6 : IPV4;
    }

    String iptables() {
        return iptables;
    }

    String restore() {
        return restore;
    }

    /** {@code ip}'s family flag, so that {@code ip rule} and {@code ip route} act on this family only. */
    String ipFlag() {
        return ipFlag;
    }

    int hostPrefix() {
        return hostPrefix;
    }

    /** The whole address space ({@code 0.0.0.0/0}, {@code ::/0}), as {@code ip route} writes it. */
    String everything() {
        return everything;
    }

    @Override
    public String toString() {
        return this == IPV4 ? "IPv4" : "IPv6";
    }
}

package dev.l4lb.netty.kube;

import java.net.InetAddress;
import java.net.InterfaceAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

import dev.l4lb.core.model.Cidr;

/** The addresses of this node's interfaces, which decide the node port listeners and which externalIPs are local. */
public final class LocalAddresses {
    private LocalAddresses() {
    }

    /** Every address of every interface that is up, loopback included, link-local IPv6 left out. */
    public static Set<InetAddress> ofThisHost() {
        Set<InetAddress> addresses = new LinkedHashSet<>();
        try {
            for (NetworkInterface nic : Collections.list(NetworkInterface.getNetworkInterfaces())) {
                if (!nic.isUp()) {
                    continue;
                }
                for (InetAddress address : Collections.list(nic.getInetAddresses())) {
                    if (!address.isLinkLocalAddress()) {
                        addresses.add(stripScope(address));
                    }
                }
            }
        } catch (SocketException e) {
            throw new IllegalStateException("cannot list this host's interfaces: " + e.getMessage(), e);
        }
        return addresses;
    }

    /**
     * The subnets of this host's interfaces that are up, as their addresses' prefixes say (the
     * network of {@code 10.244.0.1/24} on a bridge is {@code 10.244.0.0/24}): hosts inside one
     * reach each other without a router. Loopback, link-local and host prefixes (/32, /128: a
     * point-to-point link's own address) are left out. Empty when the interfaces cannot be read.
     */
    public static List<Cidr> onLinkSubnets() {
        List<Cidr> subnets = new ArrayList<>();
        try {
            for (NetworkInterface nic : Collections.list(NetworkInterface.getNetworkInterfaces())) {
                if (!nic.isUp() || nic.isLoopback()) {
                    continue;
                }
                for (InterfaceAddress address : nic.getInterfaceAddresses()) {
                    InetAddress ip = address.getAddress();
                    int prefix = address.getNetworkPrefixLength();
                    if (ip.isLinkLocalAddress() || ip.isLoopbackAddress() || prefix <= 0 || prefix >= ip.getAddress().length * 8) {
                        continue;
                    }
                    Cidr subnet = new Cidr(stripScope(ip), prefix);
                    if (!subnets.contains(subnet)) {
                        subnets.add(subnet);
                    }
                }
            }
        } catch (SocketException e) {
            return List.of(); // nothing ruled out: at worst a connect from a client's address times out once
        }
        return subnets;
    }

    /**
     * The address this host sends from on its default route (kube-proxy's node IP when none is
     * given), or null without a default route. Found by connecting a UDP socket, which sends nothing.
     */
    public static InetAddress defaultRouteSource() {
        try (java.net.DatagramSocket probe = new java.net.DatagramSocket()) {
            probe.connect(new java.net.InetSocketAddress(InetAddress.getByAddress(new byte[] {(byte) 192, 0, 2, 1}), 9));
            InetAddress source = probe.getLocalAddress();
            return source == null || source.isAnyLocalAddress() || source.isLoopbackAddress() ? null : source;
        } catch (java.io.IOException | RuntimeException e) {
            return null;
        }
    }

    /** {@code ::1%lo} and {@code ::1} are one address to the proxier: Services name addresses without scopes. */
    private static InetAddress stripScope(InetAddress address) {
        try {
            return InetAddress.getByAddress(address.getAddress());
        } catch (java.net.UnknownHostException e) {
            throw new IllegalStateException(e); // a raw 4- or 16-byte address is always accepted
        }
    }
}

package dev.l4lb.netty.kube;

import java.net.InetAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.Set;

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

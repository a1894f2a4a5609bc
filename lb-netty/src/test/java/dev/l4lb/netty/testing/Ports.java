package dev.l4lb.netty.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.DatagramSocket;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.NetworkInterface;
import java.net.ServerSocket;
import java.net.SocketException;

/** Loopback ports for tests. */
public final class Ports {
    private Ports() {
    }

    /**
     * A TCP port nothing holds on loopback right now, below the kernel's ephemeral range. Not the
     * kernel's pick: a port it picked and this released is one it may hand out again to the next
     * bind to port 0 (an admin server, a backend) or a connect's source, before the test binds it
     * (TrafficPolicyReachabilityTest once reached an admin server on its node port that way).
     */
    public static int free() {
        return freeBlock(1);
    }

    /**
     * The first of {@code count} consecutive TCP ports nothing holds on loopback right now, below
     * the kernel's ephemeral range (32768 and up by default): a port range handed to the proxier
     * must be free throughout, and after tests that made thousands of connections the ephemeral
     * ports are full of TIME_WAIT entries that a listener cannot bind over.
     */
    public static int freeBlock(int count) {
        java.util.Random random = new java.util.Random();
        for (int attempt = 0; attempt < 200; attempt++) {
            int first = 20_000 + random.nextInt(12_000 - count);
            boolean allFree = true;
            for (int port = first; port < first + count && allFree; port++) {
                try (ServerSocket probe = new ServerSocket(port, 1, InetAddress.getLoopbackAddress())) {
                    probe.getLocalPort();
                } catch (IOException taken) {
                    allFree = false;
                }
            }
            if (allFree) {
                return first;
            }
        }
        throw new IllegalStateException("no " + count + " consecutive free ports found on loopback between 20000 and 32000");
    }

    /** A loopback address with a UDP port nobody holds now. */
    public static InetSocketAddress freeUdp() {
        try (DatagramSocket probe = new DatagramSocket(loopback(0))) {
            return (InetSocketAddress) probe.getLocalSocketAddress();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** True when the loopback interface has ::1, so IPv6 tests can run. */
    public static boolean ipv6LoopbackUp() {
        try {
            NetworkInterface lo = NetworkInterface.getByInetAddress(InetAddress.getLoopbackAddress());
            return lo != null && lo.inetAddresses().anyMatch(a -> a instanceof Inet6Address);
        } catch (SocketException e) {
            return false;
        }
    }

    public static InetSocketAddress loopback(int port) {
        return new InetSocketAddress(InetAddress.getLoopbackAddress(), port);
    }
}

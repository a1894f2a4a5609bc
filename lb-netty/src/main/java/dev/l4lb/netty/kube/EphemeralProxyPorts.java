package dev.l4lb.netty.kube;

import java.io.IOException;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;

import dev.l4lb.core.kube.ProxyPorts;
import dev.l4lb.core.model.Protocol;

/**
 * Proxy ports the kernel chooses, as kube-proxy's userspace mode did without
 * {@code --proxy-port-range}: a probe socket is bound to port 0 and the port it got is handed out
 * (the balancer binds it moments later; if something took it in between, the proxier asks again).
 */
final class EphemeralProxyPorts implements ProxyPorts {
    private static final int MAX_PROBES = 64;

    private final InetAddress bindAddress;
    private final Map<String, Integer> assigned = new HashMap<>();

    EphemeralProxyPorts(InetAddress bindAddress) {
        this.bindAddress = bindAddress;
    }

    @Override
    public synchronized int portFor(String key, Protocol protocol) {
        Integer port = assigned.get(key);
        if (port == null) {
            // The probe's socket is closed at once, so the kernel may pick the same port again
            // before the balancer binds it: ask again until the port is not already handed out.
            for (int attempt = 0; port == null || assigned.containsValue(port); attempt++) {
                if (attempt == MAX_PROBES) {
                    throw new IllegalStateException("no free proxy port found on " + bindAddress.getHostAddress()
                            + " after " + MAX_PROBES + " tries");
                }
                port = probe(protocol);
            }
            assigned.put(key, port);
        }
        return port;
    }

    @Override
    public synchronized boolean handedOut(int port) {
        return assigned.containsValue(port);
    }

    @Override
    public synchronized void retainOnly(Set<String> keys) {
        assigned.keySet().retainAll(keys);
    }

    @Override
    public synchronized void unusable(int port) {
        assigned.values().removeIf(p -> p == port);
    }

    private int probe(Protocol protocol) {
        InetSocketAddress any = new InetSocketAddress(bindAddress, 0);
        try {
            if (protocol == Protocol.UDP) {
                try (DatagramSocket socket = new DatagramSocket(any)) {
                    return socket.getLocalPort();
                }
            }
            try (ServerSocket socket = new ServerSocket()) {
                socket.bind(any);
                return socket.getLocalPort();
            }
        } catch (IOException e) {
            throw new IllegalStateException("cannot find a free proxy port on " + bindAddress.getHostAddress() + ": " + e.getMessage(), e);
        }
    }
}

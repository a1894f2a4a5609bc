package dev.l4lb.core.kube;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.function.Consumer;

import dev.l4lb.core.model.Protocol;

/**
 * The proxy ports stage of {@link ClusterServices}: the ClusterIP kind of each Service port, either
 * a proxy listener with a portal per ClusterIP pointing at it, or (TCP with TPROXY portals) the
 * ClusterIP:ports intercepted whole. Single use, one per translation; {@link #releaseUnused()}
 * at the end gives back the ports of Service ports that are gone.
 */
final class ProxyListeners {
    /** Proxy ports tried for one Service port, beyond the fixed ports, before it is skipped. */
    private static final int PROXY_PORT_TRIES = 32;

    private final NodeContext node;
    private final ProxyPorts proxyPorts;
    private final AddressClaims claims;
    private final Consumer<String> skipped;
    private final List<Portal> portals = new ArrayList<>();
    private final Set<String> keys = new HashSet<>();

    /**
     * @param proxyPorts hands out the proxy listener ports
     * @param claims     the translation's claims, whose fixed ports proxy listeners avoid
     * @param skipped    told of each Service port left without a proxy port
     */
    ProxyListeners(NodeContext node, ProxyPorts proxyPorts, AddressClaims claims, Consumer<String> skipped) {
        this.node = node;
        this.proxyPorts = proxyPorts;
        this.claims = claims;
        this.skipped = skipped;
    }

    /**
     * {@code port}'s ClusterIP kind of traffic; empty, with the reason given to skipped, when no
     * proxy port is left for it.
     */
    Optional<TrafficKind> clusterTraffic(NodeServiceSpec service, NodeServiceSpec.Port port) {
        List<InetSocketAddress> listen = new ArrayList<>();
        List<InetSocketAddress> intercepted = new ArrayList<>();
        // A Service without a clusterIP (manifests) has nothing to intercept: it keeps a proxy listener.
        if (node.transparentTcp() && port.protocol() == Protocol.TCP && !service.clusterIps().isEmpty()) {
            for (InetAddress ip : service.clusterIps()) {
                intercepted.add(new InetSocketAddress(ip, port.port()));
            }
        } else {
            String key = proxyPortKey(service, port);
            int proxyPort;
            try {
                proxyPort = proxyListener(key, port.protocol(), port.label());
            } catch (IllegalStateException noneLeft) {
                skipped.accept(port.label() + ": " + noneLeft.getMessage());
                return Optional.empty();
            }
            keys.add(key);
            listen.add(new InetSocketAddress(node.bindAddress(), proxyPort));
            for (InetAddress ip : service.clusterIps()) {
                portals.add(new Portal(port.label(), port.protocol(), ip, port.port(), proxyPort));
            }
        }
        return Optional.of(new TrafficKind("", listen, intercepted, service.internalLocal(), List.of(), false));
    }

    /** The portals of every proxy listener handed out so far, in the order they were. */
    List<Portal> portals() {
        return List.copyOf(portals);
    }

    /** Gives back the proxy ports of every key this translation did not ask for. */
    void releaseUnused() {
        proxyPorts.retainOnly(keys);
    }

    /** The key {@link ProxyPorts} knows a ClusterIP port's proxy listener by: {@code namespace/name:port/protocol}. */
    static String proxyPortKey(NodeServiceSpec service, NodeServiceSpec.Port port) {
        String portName = port.name().isEmpty() ? String.valueOf(port.port()) : port.name();
        return service.namespace() + "/" + service.name() + ":" + portName + "/" + port.protocol();
    }

    /**
     * A proxy port for {@code key} whose listener is claimed for {@code owner} before any portal
     * points at it: a port another listener holds, or a Service's node port or externalIP port
     * uses, would send the ClusterIP's traffic to that other Service. Such a port is given back as
     * unusable and another taken.
     */
    private int proxyListener(String key, Protocol protocol, String owner) {
        Set<Integer> fixed = claims.fixed(protocol);
        // Enough tries to walk past every fixed port in the range, and a few taken by others.
        int tries = fixed.size() + PROXY_PORT_TRIES;
        for (int attempt = 0; attempt < tries; attempt++) {
            int port = proxyPorts.portFor(key, protocol);
            if (!fixed.contains(port) && claims.claimIfFree(protocol, new InetSocketAddress(node.bindAddress(), port), owner)) {
                return port;
            }
            proxyPorts.unusable(port);
        }
        throw new IllegalStateException("no proxy port found that no node port, health check port, externalIP or other "
                + "listener uses, after " + tries + " tries");
    }
}

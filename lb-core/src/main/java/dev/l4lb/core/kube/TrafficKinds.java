package dev.l4lb.core.kube;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import dev.l4lb.core.model.Addresses;
import dev.l4lb.core.model.Protocol;
import dev.l4lb.core.model.ShortCircuit;

/**
 * The kinds stage of {@link ClusterServices}: which kinds of traffic one Service port has on this
 * node, merged where they may share a balancer port, and where a Local external kind sends the
 * node's and the pods' own clients (its short circuit).
 */
final class TrafficKinds {
    /** Suffix of the balancer port that serves a Service port's node port and externalIP traffic. */
    static final String EXTERNAL_SUFFIX = "/external";
    /** Suffix of the balancer port that serves a Service port's load-balancer IPs. */
    static final String LOAD_BALANCER_SUFFIX = "/loadbalancer";
    /**
     * Suffix of the listener-less port whose endpoints serve node and pod clients of a Service
     * port whose traffic policies are both Local.
     */
    static final String CLUSTER_SUFFIX = "/cluster";

    private TrafficKinds() {
    }

    /**
     * The kinds of {@code port}'s traffic: {@code cluster} (its ClusterIP kind), node port and
     * externalIP traffic, and load-balancer IP traffic; those with the same endpoints and ranges
     * merged into one, in that order.
     */
    static List<TrafficKind> of(NodeServiceSpec service, NodeServiceSpec.Port port, TrafficKind cluster, NodeContext node) {
        List<TrafficKind> kinds = new ArrayList<>();
        kinds.add(cluster);
        List<InetSocketAddress> externalListen = new ArrayList<>();
        Integer nodePort = port.nodePort();
        if (nodePort != null && nodePort > 0 && service.hasNodePorts()) {
            externalListen.addAll(nodePortListeners(node, port.protocol(), nodePort));
        }
        for (InetAddress ip : service.externalIps()) {
            externalListen.add(new InetSocketAddress(ip, port.port()));
        }
        if (!externalListen.isEmpty()) {
            kinds.add(new TrafficKind(EXTERNAL_SUFFIX, externalListen, List.of(), service.externalLocal(), List.of(), true));
        }
        if (!service.ingressIps().isEmpty() && service.loadBalancer()) {
            List<InetSocketAddress> lbListen = new ArrayList<>();
            for (InetAddress ip : service.ingressIps()) {
                lbListen.add(new InetSocketAddress(ip, port.port()));
            }
            kinds.add(new TrafficKind(LOAD_BALANCER_SUFFIX, lbListen, List.of(), service.externalLocal(),
                    service.sourceRanges(), true));
        }
        return merge(kinds);
    }

    /**
     * The kinds with the addresses each could claim for {@code label}; a kind left with none is
     * dropped (the claims report who holds them).
     */
    static List<TrafficKind> claim(List<TrafficKind> kinds, Protocol protocol, String label, AddressClaims claims) {
        List<TrafficKind> claimed = new ArrayList<>();
        for (TrafficKind kind : kinds) {
            String owner = label + kind.suffix();
            List<InetSocketAddress> listen = claims.claim(protocol, kind.listen(), owner);
            List<InetSocketAddress> intercepted = claims.claim(protocol, kind.intercepted(), owner);
            if (!listen.isEmpty() || !intercepted.isEmpty()) {
                claimed.add(kind.with(listen, intercepted));
            }
        }
        return claimed;
    }

    /**
     * Where node and pod clients of a Local external kind go, when {@code claimed} has one: the
     * first kind that serves every client with every endpoint, else {@code portName}{@value
     * #CLUSTER_SUFFIX}, a port without listeners the caller adds.
     */
    static Optional<ShortCircuit> shortCircuit(List<TrafficKind> claimed, String portName, NodeContext node) {
        if (claimed.stream().noneMatch(TrafficKind::shortCircuits)) {
            return Optional.empty();
        }
        String everyone = claimed.stream().filter(t -> !t.localOnly() && t.sourceRanges().isEmpty())
                .map(t -> portName + t.suffix()).findFirst().orElse(portName + CLUSTER_SUFFIX);
        return Optional.of(new ShortCircuit(everyone, node.localAddresses(), node.clusterCidrs()));
    }

    /** Kinds of traffic with the same endpoints and ranges become one port with all their listeners. */
    static List<TrafficKind> merge(List<TrafficKind> kinds) {
        Map<List<Object>, TrafficKind> merged = new LinkedHashMap<>();
        for (TrafficKind kind : kinds) {
            List<Object> key = List.of(kind.localOnly(), kind.sourceRanges(), kind.shortCircuits());
            TrafficKind first = merged.get(key);
            if (first == null) {
                merged.put(key, kind);
            } else {
                List<InetSocketAddress> listen = new ArrayList<>(first.listen());
                listen.addAll(kind.listen());
                List<InetSocketAddress> intercepted = new ArrayList<>(first.intercepted());
                intercepted.addAll(kind.intercepted());
                merged.put(key, first.with(listen, intercepted));
            }
        }
        return List.copyOf(merged.values());
    }

    /**
     * The node port's listeners: the wildcard address for TCP when every address serves node
     * ports, else each local address in range. UDP always binds each address, so that replies
     * leave from the address the client sent to.
     */
    static List<InetSocketAddress> nodePortListeners(NodeContext node, Protocol protocol, int nodePort) {
        if (node.nodePortAddresses().isEmpty() && protocol == Protocol.TCP) {
            return List.of(new InetSocketAddress(wildcard(node.bindAddress()), nodePort));
        }
        List<InetSocketAddress> listen = new ArrayList<>();
        for (InetAddress address : node.nodePortLocalAddresses()) {
            listen.add(new InetSocketAddress(address, nodePort));
        }
        return listen;
    }

    private static InetAddress wildcard(InetAddress family) {
        return Addresses.parseIp(family instanceof java.net.Inet6Address ? "::" : "0.0.0.0").orElseThrow();
    }
}

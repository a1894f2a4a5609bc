package dev.l4lb.core.kube;

import static dev.l4lb.core.kube.NodeServiceSpec.orEmpty;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

import io.fabric8.kubernetes.api.model.discovery.v1.EndpointConditions;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointPort;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;

import dev.l4lb.core.model.Addresses;
import dev.l4lb.core.model.Endpoint;

/**
 * The endpoints stage of {@link ClusterServices}: one Service port's endpoints as its
 * EndpointSlices list them, and which of them each traffic policy uses on this node.
 *
 * @param all   every endpoint, sorted by address
 * @param hints the topology hints of each endpoint in {@code all}
 */
record PortEndpoints(List<Endpoint> all, Map<InetSocketAddress, Hints> hints) {

    PortEndpoints {
        all = List.copyOf(all);
        hints = Map.copyOf(hints);
    }

    /** Topology hints of one endpoint: the zones and the nodes it is meant for (empty: no hint). */
    record Hints(Set<String> zones, Set<String> nodes) {
        static final Hints NONE = new Hints(Set.of(), Set.of());

        static Hints of(io.fabric8.kubernetes.api.model.discovery.v1.Endpoint endpoint) {
            if (endpoint.getHints() == null) {
                return NONE;
            }
            Set<String> zones = new HashSet<>();
            orEmpty(endpoint.getHints().getForZones()).forEach(z -> zones.add(z.getName()));
            Set<String> nodes = new HashSet<>();
            orEmpty(endpoint.getHints().getForNodes()).forEach(n -> nodes.add(n.getName()));
            return new Hints(zones, nodes);
        }
    }

    /**
     * The endpoints of one Service port, read as kube-proxy's EndpointSliceCache reads them: the
     * first address of each slice endpoint (the others are the same pod's), at the slice port
     * with this port's name and protocol (the EndpointSlice controller resolved targetPort there).
     * An address in two slices counts once, the entry that is not terminating first (a new pod
     * that reuses an old one's IP). Unset conditions read as the API says: ready and serving
     * unset are true, terminating unset is false. Sorted by address, so that the order of the
     * informers' stores does not make an unchanged Service look changed.
     */
    static PortEndpoints read(List<EndpointSlice> slices, String portName, String protocol) {
        Map<InetSocketAddress, Endpoint> byAddress = new LinkedHashMap<>();
        Map<InetSocketAddress, Hints> hints = new HashMap<>();
        for (EndpointSlice slice : slices) {
            Integer number = null;
            for (EndpointPort port : orEmpty(slice.getPorts())) {
                String name = port.getName() == null ? "" : port.getName();
                String proto = port.getProtocol() == null ? "TCP" : port.getProtocol();
                if (name.equals(portName) && proto.equals(protocol)) {
                    number = port.getPort();
                    break;
                }
            }
            if (number == null || number < 1 || number > 65535) {
                continue;
            }
            for (io.fabric8.kubernetes.api.model.discovery.v1.Endpoint endpoint : orEmpty(slice.getEndpoints())) {
                EndpointConditions conditions = endpoint.getConditions();
                boolean ready = conditions == null || conditions.getReady() == null || conditions.getReady();
                boolean serving = conditions == null || conditions.getServing() == null || conditions.getServing();
                boolean terminating = conditions != null && Boolean.TRUE.equals(conditions.getTerminating());
                String nodeName = endpoint.getNodeName() == null ? "" : endpoint.getNodeName();
                List<String> addresses = orEmpty(endpoint.getAddresses());
                Optional<InetAddress> ip = addresses.isEmpty() ? Optional.empty() : Addresses.parseIp(addresses.get(0));
                if (ip.isPresent()) {
                    InetSocketAddress address = new InetSocketAddress(ip.get(), number);
                    Endpoint candidate = new Endpoint(address, Endpoint.DEFAULT_WEIGHT, nodeName, ready, serving, terminating, 0);
                    Endpoint before = byAddress.get(address);
                    if (before == null || (before.terminating() && !terminating)) {
                        byAddress.put(address, candidate);
                        hints.put(address, Hints.of(endpoint));
                    }
                }
            }
        }
        List<Endpoint> sorted = new ArrayList<>(byAddress.values());
        sorted.sort(Comparator.comparing((Endpoint e) -> Addresses.format(e.address())));
        return new PortEndpoints(sorted, hints);
    }

    /**
     * The endpoints cluster traffic uses on this node, as kube-proxy's topologyModeFromHints and
     * availableForTopology choose them (pkg/proxy/topology.go): when every ready endpoint has a
     * node hint and one is for this node, the ready ones for this node (PreferSameNode); else when
     * every ready endpoint has a zone hint and one is for this node's zone, the ready ones for the
     * zone (topology-aware routing, PreferSameZone); else all of them. The EndpointSlice
     * controller sets hints only for Services that ask for them.
     */
    List<Endpoint> forCluster(String nodeName, String zone) {
        boolean anyReady = false;
        boolean allNodeHints = true;
        boolean forThisNode = false;
        boolean allZoneHints = true;
        boolean forThisZone = false;
        for (Endpoint endpoint : all) {
            if (!endpoint.ready()) {
                continue;
            }
            anyReady = true;
            Hints hint = hints.getOrDefault(endpoint.address(), Hints.NONE);
            if (hint.nodes().isEmpty()) {
                allNodeHints = false;
            } else if (hint.nodes().contains(nodeName)) {
                forThisNode = true;
            }
            if (hint.zones().isEmpty()) {
                allZoneHints = false;
            } else if (hint.zones().contains(zone)) {
                forThisZone = true;
            }
        }
        if (anyReady && allNodeHints && forThisNode) {
            return all.stream().filter(e -> e.ready() && hints.get(e.address()).nodes().contains(nodeName)).toList();
        }
        if (anyReady && allZoneHints && forThisZone) {
            return all.stream().filter(e -> e.ready() && hints.get(e.address()).zones().contains(zone)).toList();
        }
        return all;
    }

    /** The endpoints a Local traffic policy uses: those on this node, ready or not; topology does not apply. */
    List<Endpoint> onNode(String nodeName) {
        return all.stream().filter(e -> nodeName.equals(e.node())).toList();
    }

    /** The addresses of the ready endpoints on this node, which a health check node port counts. */
    Set<InetAddress> readyOn(String nodeName) {
        Set<InetAddress> ready = new HashSet<>();
        for (Endpoint endpoint : all) {
            if (endpoint.ready() && nodeName.equals(endpoint.node())) {
                ready.add(endpoint.address().getAddress());
            }
        }
        return ready;
    }
}

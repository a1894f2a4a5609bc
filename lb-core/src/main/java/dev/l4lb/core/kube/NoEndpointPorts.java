package dev.l4lb.core.kube;

import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import dev.l4lb.core.model.Protocol;
import dev.l4lb.core.model.Service;
import dev.l4lb.core.model.ServicePort;
import dev.l4lb.core.model.ShortCircuit;
import dev.l4lb.core.sched.Eligibility;

/**
 * Which balancer ports of a {@link ProxierPlan} no endpoint can serve, and how the node refuses
 * them, by kube-proxy's rules: a Service port without any endpoint the data plane could use
 * (ready, else serving while terminating: {@link Eligibility}) is rejected for every client; a
 * kind of its traffic whose policy leaves it none (Local, no local endpoint) while others have
 * some is dropped, except for the node and pod clients its short circuit hands to a sibling port
 * with endpoints.
 */
public final class NoEndpointPorts {

    private NoEndpointPorts() {
    }

    /** The ports of {@code plan} to refuse, in the plan's order. */
    public static List<NoEndpointPort> of(ProxierPlan plan) {
        // Where a portal sends its ClusterIP: the proxy listener's port, per protocol.
        Map<Protocol, Map<Integer, List<InetSocketAddress>>> portals = new HashMap<>();
        plan.portals().forEach(p -> portals.computeIfAbsent(p.protocol(), k -> new HashMap<>())
                .computeIfAbsent(p.proxyPort(), k -> new ArrayList<>()).add(new InetSocketAddress(p.address(), p.port())));
        List<NoEndpointPort> refused = new ArrayList<>();
        for (Service service : plan.services()) {
            for (List<ServicePort> siblings : byServicePort(service).values()) {
                boolean anyEndpoint = siblings.stream().anyMatch(p -> Eligibility.anyEligible(p.endpoints()));
                for (ServicePort port : siblings) {
                    if (!Eligibility.anyEligible(port.endpoints())) {
                        refusal(service, port, siblings, anyEndpoint, portals.getOrDefault(port.protocol(), Map.of()))
                                .ifPresent(refused::add);
                    }
                }
            }
        }
        return refused;
    }

    /**
     * The balancer ports of each Service port and protocol: the ClusterIP kind is named as the
     * Service port, the others add a suffix after a slash, which a Service port's name cannot hold.
     */
    private static Map<String, List<ServicePort>> byServicePort(Service service) {
        Map<String, List<ServicePort>> siblings = new LinkedHashMap<>();
        for (ServicePort port : service.ports()) {
            int slash = port.name().indexOf('/');
            String servicePort = slash < 0 ? port.name() : port.name().substring(0, slash);
            siblings.computeIfAbsent(servicePort + " " + port.protocol(), k -> new ArrayList<>()).add(port);
        }
        return siblings;
    }

    private static Optional<NoEndpointPort> refusal(Service service, ServicePort port, List<ServicePort> siblings,
                                                    boolean anyEndpoint, Map<Integer, List<InetSocketAddress>> portals) {
        List<InetSocketAddress> destinations = new ArrayList<>();
        List<InetSocketAddress> clusterIps = new ArrayList<>(port.intercepted());
        for (InetSocketAddress listen : port.listen()) {
            List<InetSocketAddress> redirected = portals.get(listen.getPort());
            if (redirected != null) {
                clusterIps.addAll(redirected); // a proxy listener: its clients come through the portals
            } else {
                destinations.add(listen);
            }
        }
        if (destinations.isEmpty() && clusterIps.isEmpty()) {
            return Optional.empty(); // a port without listeners, reached only through a short circuit
        }
        // Named as the metrics and the connection log name the port.
        String label = port.name().isEmpty() ? service.qualifiedName() : service.qualifiedName() + ":" + port.name();
        if (!anyEndpoint) {
            return Optional.of(new NoEndpointPort(label, port.protocol(), destinations, clusterIps,
                    NoEndpointPort.Refusal.REJECT, Optional.empty()));
        }
        Optional<ShortCircuit> spared = port.shortCircuit().filter(inside -> siblings.stream()
                .anyMatch(s -> s.name().equals(inside.port()) && Eligibility.anyEligible(s.endpoints())));
        return Optional.of(new NoEndpointPort(label, port.protocol(), destinations, clusterIps,
                NoEndpointPort.Refusal.DROP, spared));
    }
}

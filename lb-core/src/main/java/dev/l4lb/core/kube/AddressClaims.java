package dev.l4lb.core.kube;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;

import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceSpec;
import org.jspecify.annotations.Nullable;

import dev.l4lb.core.model.Addresses;
import dev.l4lb.core.model.Protocol;

/**
 * Who listens on or intercepts each address:port in one translation, so that when two Services
 * claim one address the first (the older) keeps it; and which port numbers are fixed by some
 * Service, so that no proxy listener takes one. Single use, one per translation.
 */
final class AddressClaims {
    private final Consumer<String> skipped;
    /**
     * Every address a port listens on or intercepts so far, and whose it is, by protocol and
     * port number: a clash can only be within one port number, so each check reads only the
     * few addresses of that number, not every claim of a cluster with thousands of Services.
     */
    private final Map<Protocol, Map<Integer, Map<InetAddress, String>>> claimed = new HashMap<>();
    /**
     * Port numbers some Service's node port, health check port, externalIP or load-balancer IP
     * uses, by protocol: no proxy listener takes one, whichever Service is older.
     */
    private final Map<Protocol, Set<Integer>> fixed = new HashMap<>();

    /** @param skipped told of each address refused, with who holds it */
    AddressClaims(Consumer<String> skipped) {
        this.skipped = skipped;
    }

    /** Notes the port numbers of every node port, health check port, externalIP and load-balancer IP of these. */
    void reserveFixedPorts(List<Service> services) {
        for (Service service : services) {
            ServiceSpec spec = service.getSpec();
            if (spec == null) {
                continue;
            }
            boolean nodePorts = NodeServiceSpec.hasNodePorts(spec.getType());
            boolean servicePorts = !NodeServiceSpec.orEmpty(spec.getExternalIPs()).isEmpty()
                    || !NodeServiceSpec.ingressIps(service).isEmpty();
            if (spec.getHealthCheckNodePort() != null) {
                fixed.computeIfAbsent(Protocol.TCP, p -> new HashSet<>()).add(spec.getHealthCheckNodePort());
            }
            for (io.fabric8.kubernetes.api.model.ServicePort port : NodeServiceSpec.orEmpty(spec.getPorts())) {
                Protocol protocol = "UDP".equals(port.getProtocol()) ? Protocol.UDP : Protocol.TCP;
                Set<Integer> numbers = fixed.computeIfAbsent(protocol, p -> new HashSet<>());
                if (nodePorts && port.getNodePort() != null) {
                    numbers.add(port.getNodePort());
                }
                if (servicePorts && port.getPort() != null) {
                    numbers.add(port.getPort());
                }
            }
        }
    }

    /** The port numbers of this protocol that {@link #reserveFixedPorts} found. */
    Set<Integer> fixed(Protocol protocol) {
        return fixed.getOrDefault(protocol, Set.of());
    }

    /**
     * The addresses of {@code wanted} nobody claimed yet, now claimed by {@code owner}; the
     * others are reported as skipped. A wildcard address clashes with every address of its port.
     */
    List<InetSocketAddress> claim(Protocol protocol, List<InetSocketAddress> wanted, String owner) {
        List<InetSocketAddress> granted = new ArrayList<>(wanted.size());
        for (InetSocketAddress address : wanted) {
            Map<InetAddress, String> taken = takenAt(protocol, address.getPort());
            String holder = holderOf(taken, address.getAddress());
            if (holder == null) {
                taken.put(address.getAddress(), owner);
                granted.add(address);
            } else if (owner.equals(taken.get(address.getAddress()))) {
                if (!granted.contains(address)) {
                    granted.add(address); // claimed before, by the owner itself (its proxy listener)
                }
            } else if (!holder.equals(owner)) {
                skipped.accept(owner + ": " + protocol + " " + Addresses.format(address) + " is already served for "
                        + holder + " (the older Service keeps it)");
            }
        }
        return granted;
    }

    /** Claims {@code address} for {@code owner} when nobody holds it; says whether it did. */
    boolean claimIfFree(Protocol protocol, InetSocketAddress address, String owner) {
        Map<InetAddress, String> taken = takenAt(protocol, address.getPort());
        if (holderOf(taken, address.getAddress()) != null) {
            return false;
        }
        taken.put(address.getAddress(), owner);
        return true;
    }

    /** The claims on this protocol's port number, address to owner. */
    private Map<InetAddress, String> takenAt(Protocol protocol, int port) {
        return claimed.computeIfAbsent(protocol, p -> new HashMap<>()).computeIfAbsent(port, p -> new HashMap<>(4));
    }

    /** Who holds {@code address} on this port number: the same address, or a wildcard on either side. */
    private static @Nullable String holderOf(Map<InetAddress, String> taken, InetAddress address) {
        String exact = taken.get(address);
        if (exact != null) {
            return exact;
        }
        for (Map.Entry<InetAddress, String> entry : taken.entrySet()) {
            if (entry.getKey().isAnyLocalAddress() || address.isAnyLocalAddress()) {
                return entry.getValue();
            }
        }
        return null;
    }
}

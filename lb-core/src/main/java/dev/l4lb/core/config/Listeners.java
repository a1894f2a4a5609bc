package dev.l4lb.core.config;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.jspecify.annotations.Nullable;
import tools.jackson.databind.JsonNode;

import dev.l4lb.core.model.Addresses;
import dev.l4lb.core.model.Endpoint;
import dev.l4lb.core.model.Protocol;
import dev.l4lb.core.model.Service;
import dev.l4lb.core.model.ServicePort;

/**
 * The listen addresses of a config, claimed port by port: one address claimed twice, a wildcard
 * over a specific address on the same port, or an endpoint that is a listener are problems, since
 * the first two cannot both bind and the last relays to itself. TCP ports that all have
 * serverNames may share an address: it is bound once and the ClientHello picks the port, so their
 * names must not overlap and they must agree on what is read before the name is known.
 */
final class Listeners {
    private final Problems problems;
    private final AddressReader addresses;
    /** Listener address to the path that claimed it, per protocol. */
    private final Map<Protocol, Map<InetSocketAddress, String>> claimed = new HashMap<>();
    /** TCP listeners claimed by ports with serverNames, to the path of each such port. */
    private final Map<InetSocketAddress, List<String>> byName = new LinkedHashMap<>();

    Listeners(Problems problems, AddressReader addresses) {
        this.problems = problems;
        this.addresses = addresses;
    }

    /** The {@code listen} list of the port at {@code portPath}, each address claimed for its protocol. */
    List<InetSocketAddress> read(@Nullable JsonNode node, String portPath, Protocol protocol, boolean routedByName) {
        String path = portPath + ".listen";
        List<InetSocketAddress> result = new ArrayList<>();
        if (node == null) {
            problems.add(portPath, "missing key 'listen' (one or more \"address:port\")");
            return result;
        }
        if (!node.isArray() || node.isEmpty()) {
            problems.add(path, "must be a non-empty list of \"address:port\"");
            return result;
        }
        Map<InetSocketAddress, String> taken = claimed.computeIfAbsent(protocol, p -> new LinkedHashMap<>());
        for (int i = 0; i < node.size(); i++) {
            String itemPath = path + "[" + i + "]";
            JsonNode item = node.get(i);
            if (!item.isString()) {
                problems.add(itemPath, "must be a string \"address:port\" (quote it)");
                continue;
            }
            InetSocketAddress address = addresses.hostPort(FieldReader.shown(item), itemPath, false, 0);
            if (address == null) {
                continue;
            }
            if (protocol == Protocol.UDP && address.getAddress().isAnyLocalAddress()) {
                // Replies leave from the address the kernel picks for the client's route, and a
                // client that sent to another one (a connected resolver socket) never sees them.
                problems.add(itemPath, "a UDP port cannot listen on a wildcard address: its replies would come from "
                        + "whichever local address the kernel picks, not the one the client sent to; list the addresses");
                continue;
            }
            List<String> sharers = byName.get(address);
            if (routedByName && sharers != null) {
                if (sharers.contains(portPath)) {
                    problems.add(itemPath, "duplicate listener " + Addresses.format(address) + " (also " + taken.get(address) + ")");
                    continue;
                }
                sharers.add(portPath); // shared by name: checked in checkSharedListeners
                result.add(address);
                continue;
            }
            String clash = clash(taken, address);
            if (clash != null && sharers != null) {
                clash = "listener " + Addresses.format(address) + " is shared by server name (" + taken.get(address)
                        + "): ports can share a listener only when every one of them has serverNames";
            } else if (clash != null && routedByName && taken.get(address) != null) {
                clash = "listener " + Addresses.format(address) + " is also " + taken.get(address)
                        + ", which has no serverNames: ports can share a listener only when every one of them has serverNames";
            }
            if (clash != null) {
                problems.add(itemPath, clash);
                continue;
            }
            taken.put(address, itemPath);
            if (routedByName) {
                byName.put(address, new ArrayList<>(List.of(portPath)));
            }
            result.add(address);
        }
        return result;
    }

    /**
     * The ports sharing a listener by server name must not serve one name twice (which port would
     * take it?), and must agree on what is read before the name is known. The paths are the
     * file's: call this only when no service or port was dropped.
     */
    void checkSharedListeners(List<Service> services) {
        Set<String> reported = new HashSet<>();
        for (Map.Entry<InetSocketAddress, List<String>> shared : byName.entrySet()) {
            Map<String, String> servedBy = new HashMap<>();
            ServicePort first = null;
            String firstPath = null;
            for (String portPath : shared.getValue()) {
                ServicePort port = portAt(services, portPath);
                List<String> names = port.serverNames().names();
                for (int i = 0; i < names.size(); i++) {
                    String namePath = portPath + ".serverNames[" + i + "]";
                    String other = servedBy.putIfAbsent(names.get(i), namePath);
                    if (other != null && reported.add(namePath)) {
                        problems.add(namePath, "\"" + names.get(i) + "\" is also served by " + other);
                    }
                }
                if (first == null) {
                    first = port;
                    firstPath = portPath;
                    continue;
                }
                String differs = !first.serverNames().clientHelloTimeout().equals(port.serverNames().clientHelloTimeout())
                        ? "clientHelloTimeout"
                        : !first.policy().acceptProxyProtocol().equals(port.policy().acceptProxyProtocol())
                        ? "acceptProxyProtocol, trustedUpstreams or acceptProxyProtocolTimeout" : null;
                if (differs != null && reported.add(portPath + " " + differs)) {
                    problems.add(portPath, "shares listener " + Addresses.format(shared.getKey()) + " with " + firstPath
                            + " but its " + differs + " differs: ports on one listener must agree on what is read before"
                            + " the server name is known");
                }
            }
        }
    }

    /** The port at {@code services[s].ports[p]}. */
    private static ServicePort portAt(List<Service> services, String portPath) {
        int s = Integer.parseInt(portPath.substring(portPath.indexOf('[') + 1, portPath.indexOf(']')));
        int p = Integer.parseInt(portPath.substring(portPath.lastIndexOf('[') + 1, portPath.lastIndexOf(']')));
        return services.get(s).ports().get(p);
    }

    /** A message when {@code address} collides with a listener already claimed, else null. */
    private static @Nullable String clash(Map<InetSocketAddress, String> taken, InetSocketAddress address) {
        String same = taken.get(address);
        if (same != null) {
            return "duplicate listener " + Addresses.format(address) + " (also " + same + ")";
        }
        for (Map.Entry<InetSocketAddress, String> e : taken.entrySet()) {
            InetSocketAddress other = e.getKey();
            if (other.getPort() == address.getPort() && overlaps(other.getAddress(), address.getAddress())) {
                return "listener " + Addresses.format(address) + " overlaps " + Addresses.format(other)
                        + " (" + e.getValue() + "): a wildcard address takes the port on every address";
            }
        }
        return null;
    }

    private static boolean overlaps(InetAddress a, InetAddress b) {
        boolean aWild = a.isAnyLocalAddress();
        boolean bWild = b.isAnyLocalAddress();
        if (!aWild && !bWild) {
            return false;
        }
        boolean aV4 = a instanceof Inet4Address;
        boolean bV4 = b instanceof Inet4Address;
        // [::] is dual-stack on Linux by default, so it covers IPv4 too; 0.0.0.0 covers only IPv4.
        if (aWild && !aV4 || bWild && !bV4) {
            return true;
        }
        return aV4 == bV4;
    }

    /**
     * An endpoint that is one of this balancer's own listeners would relay every connection back
     * to itself until descriptors run out. The paths are the file's: call this only when no
     * service or port was dropped.
     */
    void checkNoLoops(List<Service> services) {
        for (int s = 0; s < services.size(); s++) {
            List<ServicePort> ports = services.get(s).ports();
            for (int p = 0; p < ports.size(); p++) {
                // An endpoint can only loop back to a listener of its own protocol.
                Map<InetSocketAddress, String> own = claimed.getOrDefault(ports.get(p).protocol(), Map.of());
                List<Endpoint> endpoints = ports.get(p).endpoints();
                for (int e = 0; e < endpoints.size(); e++) {
                    InetSocketAddress target = endpoints.get(e).address();
                    for (InetSocketAddress listen : own.keySet()) {
                        boolean same = listen.equals(target)
                                || listen.getPort() == target.getPort() && listen.getAddress().isAnyLocalAddress()
                                && target.getAddress().isLoopbackAddress();
                        if (same) {
                            problems.add("services[" + s + "].ports[" + p + "].endpoints[" + e + "]", "endpoint "
                                    + Addresses.format(target) + " is this balancer's own listener " + Addresses.format(listen)
                                    + ": traffic would loop back to it");
                        }
                    }
                }
            }
        }
    }
}

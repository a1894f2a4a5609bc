package dev.l4lb.core.config;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

import org.jspecify.annotations.Nullable;
import tools.jackson.databind.JsonNode;

import dev.l4lb.core.model.Addresses;
import dev.l4lb.core.model.Endpoint;

/**
 * Reads the {@code endpoints} of a port: each an {@code "address:port"} string, or a mapping
 * with the address and its weight, node, readiness and connection limit.
 */
final class EndpointReader {
    private static final Set<String> KEYS = Set.of("address", "port", "weight", "node", "ready", "serving",
            "terminating", "maxConnections");
    private static final int MAX_WEIGHT = 65535; // ipvsadm's upper bound

    private final Problems problems;
    private final AddressReader addresses;

    EndpointReader(Problems problems, AddressReader addresses) {
        this.problems = problems;
        this.addresses = addresses;
    }

    /** The endpoints at {@code path}; a bare address takes the port's {@code targetPort}. */
    List<Endpoint> read(@Nullable JsonNode node, String path, int targetPort) {
        List<Endpoint> result = new ArrayList<>();
        if (node == null) {
            return result; // a service with no endpoints is valid: its connections are refused
        }
        if (!node.isArray()) {
            problems.add(path, "must be a list");
            return result;
        }
        Set<InetSocketAddress> seen = new HashSet<>();
        for (int i = 0; i < node.size(); i++) {
            String itemPath = path + "[" + i + "]";
            Endpoint endpoint = endpoint(node.get(i), itemPath, targetPort);
            if (endpoint == null) {
                continue;
            }
            if (!seen.add(endpoint.address())) {
                problems.add(itemPath, "duplicate endpoint " + endpoint);
                continue;
            }
            result.add(endpoint);
        }
        return result;
    }

    private @Nullable Endpoint endpoint(JsonNode node, String path, int targetPort) {
        if (node.isString()) {
            InetSocketAddress address = addresses.connectable(
                    addresses.hostPort(FieldReader.shown(node), path, true, targetPort), path);
            return address == null ? null : Endpoint.of(address);
        }
        FieldReader fields = FieldReader.of(node, path, KEYS, problems);
        if (fields == null) {
            return null;
        }
        int before = problems.count();
        String addressText = fields.requiredString("address");
        int port = fields.integer("port", 0, 1, 65535);
        int weight = fields.integer("weight", Endpoint.DEFAULT_WEIGHT, 0, MAX_WEIGHT);
        String nodeName = fields.string("node", "");
        boolean ready = fields.bool("ready", true);
        boolean serving = fields.bool("serving", ready);
        boolean terminating = fields.bool("terminating", false);
        int maxConnections = fields.integer("maxConnections", 0, 0, Integer.MAX_VALUE);
        InetSocketAddress address = addressText == null ? null : address(fields, addressText, port, targetPort);
        address = addresses.connectable(address, path + ".address");
        if (problems.count() > before || address == null) {
            return null;
        }
        return new Endpoint(address, weight, nodeName, ready, serving, terminating, maxConnections);
    }

    /** With {@code port} set, the address must be an IP alone; else it is {@code address[:port]}. */
    private @Nullable InetSocketAddress address(FieldReader fields, String text, int port, int targetPort) {
        String path = fields.path("address");
        if (!fields.has("port")) {
            return addresses.hostPort(text, path, true, targetPort);
        }
        Optional<InetAddress> ip = Addresses.parseIp(AddressReader.stripBrackets(text));
        if (ip.isEmpty()) {
            problems.add(path, "'" + text + "' is not an IP address (with 'port' set, give the address alone)");
            return null;
        }
        return new InetSocketAddress(ip.get(), port);
    }
}

package dev.l4lb.core.config;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

import org.jspecify.annotations.Nullable;
import tools.jackson.databind.JsonNode;

import dev.l4lb.core.model.Service;
import dev.l4lb.core.model.ServicePort;

/** Reads the {@code services} list: each service's {@code namespace/name} and its ports. */
final class ServiceReader {
    /** Kubernetes' DNS-1123 label: names of namespaces, services and ports. */
    static final Pattern DNS_LABEL = Pattern.compile("[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?");
    private static final Set<String> KEYS = Set.of("name", "ports");

    private final Problems problems;
    private final PortReader ports;

    ServiceReader(Problems problems, PortReader ports) {
        this.problems = problems;
        this.ports = ports;
    }

    /** The services of the list; one named twice is kept once, and the second reported. */
    List<Service> read(JsonNode list) {
        List<Service> services = new ArrayList<>();
        if (!list.isArray()) {
            problems.add("services", "must be a list");
            return services;
        }
        Map<String, String> seen = new HashMap<>();
        for (int i = 0; i < list.size(); i++) {
            String path = "services[" + i + "]";
            Service service = service(list.get(i), path);
            if (service != null) {
                String other = seen.putIfAbsent(service.qualifiedName(), path);
                if (other != null) {
                    problems.add(path + ".name", "duplicate service " + service.qualifiedName() + " (also " + other + ")");
                } else {
                    services.add(service);
                }
            }
        }
        return services;
    }

    private @Nullable Service service(JsonNode node, String path) {
        FieldReader fields = FieldReader.of(node, path, KEYS, problems);
        if (fields == null) {
            return null;
        }
        int before = problems.count();
        String namespace = "default";
        String name = null;
        String qualified = fields.requiredString("name");
        if (qualified != null) {
            int slash = qualified.indexOf('/');
            namespace = slash < 0 ? "default" : qualified.substring(0, slash);
            name = slash < 0 ? qualified : qualified.substring(slash + 1);
            if (!DNS_LABEL.matcher(namespace).matches() || !DNS_LABEL.matcher(name).matches()) {
                problems.add(path + ".name", "'" + qualified + "' is not namespace/name (lowercase letters, digits and '-', "
                        + "at most 63 each, as Kubernetes requires)");
            }
        }
        List<ServicePort> portList = ports(fields.node("ports"), path);
        if (problems.count() > before) {
            return null;
        }
        return new Service(namespace, name, portList);
    }

    /** The ports of the service at {@code path}: each named when there are several, no name twice. */
    private List<ServicePort> ports(@Nullable JsonNode list, String path) {
        List<ServicePort> result = new ArrayList<>();
        if (list == null) {
            problems.add(path, "missing key 'ports'");
            return result;
        }
        if (!list.isArray() || list.isEmpty()) {
            problems.add(path + ".ports", "must be a non-empty list");
            return result;
        }
        Set<String> names = new HashSet<>();
        for (int i = 0; i < list.size(); i++) {
            String portPath = path + ".ports[" + i + "]";
            ServicePort port = ports.read(list.get(i), portPath);
            if (port == null) {
                continue;
            }
            if (port.name().isEmpty() && list.size() > 1) {
                problems.add(portPath, "a service with several ports needs a name on each port");
            } else if (!names.add(port.name())) {
                problems.add(portPath + ".name", "duplicate port name '" + port.name() + "'");
            }
            result.add(port);
        }
        return result;
    }
}

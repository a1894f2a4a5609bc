package dev.l4lb.core.config;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import dev.l4lb.core.model.Addresses;
import dev.l4lb.core.model.Endpoint;
import dev.l4lb.core.model.Service;
import dev.l4lb.core.model.ServicePort;

/**
 * What a reload changes, in the words an operator checks it by: services, service ports and
 * endpoints added, removed or changed. Ports are named {@code namespace/name:port/PROTOCOL}
 * ({@code namespace/name/PROTOCOL} for an unnamed port), endpoints {@code <port> address}.
 *
 * @param servicesAdded    services only the new config has
 * @param servicesRemoved  services only the old config has
 * @param portsAdded       ports of services in both configs that only the new one has
 * @param portsRemoved     ports of services in both configs that only the old one has
 * @param portsChanged     ports in both whose listeners, scheduler or other policy, health policy or server names differ
 * @param endpointsAdded   endpoints of ports in both that only the new config has
 * @param endpointsRemoved endpoints of ports in both that only the old config has
 * @param endpointsChanged endpoints in both whose weight, state, node or limit differ
 */
public record ConfigDiff(List<String> servicesAdded, List<String> servicesRemoved,
                         List<String> portsAdded, List<String> portsRemoved, List<String> portsChanged,
                         List<String> endpointsAdded, List<String> endpointsRemoved, List<String> endpointsChanged) {

    public ConfigDiff {
        servicesAdded = List.copyOf(servicesAdded);
        servicesRemoved = List.copyOf(servicesRemoved);
        portsAdded = List.copyOf(portsAdded);
        portsRemoved = List.copyOf(portsRemoved);
        portsChanged = List.copyOf(portsChanged);
        endpointsAdded = List.copyOf(endpointsAdded);
        endpointsRemoved = List.copyOf(endpointsRemoved);
        endpointsChanged = List.copyOf(endpointsChanged);
    }

    /** The changes from {@code before} to {@code after}, each list in config order. */
    public static ConfigDiff between(List<Service> before, List<Service> after) {
        Map<String, Service> old = byName(before);
        Map<String, Service> now = byName(after);
        List<String> servicesAdded = new ArrayList<>();
        List<String> servicesRemoved = new ArrayList<>();
        List<String> portsAdded = new ArrayList<>();
        List<String> portsRemoved = new ArrayList<>();
        List<String> portsChanged = new ArrayList<>();
        List<String> endpointsAdded = new ArrayList<>();
        List<String> endpointsRemoved = new ArrayList<>();
        List<String> endpointsChanged = new ArrayList<>();
        old.keySet().stream().filter(name -> !now.containsKey(name)).forEach(servicesRemoved::add);
        for (Service service : now.values()) {
            Service previous = old.get(service.qualifiedName());
            if (previous == null) {
                servicesAdded.add(service.qualifiedName());
                continue;
            }
            Map<String, ServicePort> oldPorts = portsByKey(previous);
            Map<String, ServicePort> newPorts = portsByKey(service);
            oldPorts.forEach((key, port) -> {
                if (!newPorts.containsKey(key)) {
                    portsRemoved.add(portName(service, port));
                }
            });
            for (Map.Entry<String, ServicePort> entry : newPorts.entrySet()) {
                ServicePort port = entry.getValue();
                String portName = portName(service, port);
                ServicePort was = oldPorts.get(entry.getKey());
                if (was == null) {
                    portsAdded.add(portName);
                    continue;
                }
                // A health policy changes which endpoints get connections as much as a scheduler does.
                if (!was.listen().equals(port.listen()) || !was.policy().equals(port.policy())
                        || was.targetPort() != port.targetPort() || !was.health().equals(port.health())
                        || !was.serverNames().equals(port.serverNames())) {
                    portsChanged.add(portName);
                }
                Map<String, Endpoint> oldEndpoints = endpointsByAddress(was);
                Map<String, Endpoint> newEndpoints = endpointsByAddress(port);
                oldEndpoints.keySet().stream().filter(a -> !newEndpoints.containsKey(a))
                        .forEach(a -> endpointsRemoved.add(portName + " " + a));
                newEndpoints.forEach((address, endpoint) -> {
                    Endpoint previousEndpoint = oldEndpoints.get(address);
                    if (previousEndpoint == null) {
                        endpointsAdded.add(portName + " " + address);
                    } else if (!previousEndpoint.equals(endpoint)) {
                        endpointsChanged.add(portName + " " + address);
                    }
                });
            }
        }
        return new ConfigDiff(servicesAdded, servicesRemoved, portsAdded, portsRemoved, portsChanged,
                endpointsAdded, endpointsRemoved, endpointsChanged);
    }

    /** True when the two configs serve the same services the same way. */
    public boolean isEmpty() {
        return servicesAdded.isEmpty() && servicesRemoved.isEmpty() && portsAdded.isEmpty() && portsRemoved.isEmpty()
                && portsChanged.isEmpty() && endpointsAdded.isEmpty() && endpointsRemoved.isEmpty()
                && endpointsChanged.isEmpty();
    }

    /** A one-line count of each kind of change, for logs. */
    public String summary() {
        if (isEmpty()) {
            return "no changes";
        }
        StringBuilder out = new StringBuilder();
        count(out, "service(s) added", servicesAdded);
        count(out, "service(s) removed", servicesRemoved);
        count(out, "port(s) added", portsAdded);
        count(out, "port(s) removed", portsRemoved);
        count(out, "port(s) changed", portsChanged);
        count(out, "endpoint(s) added", endpointsAdded);
        count(out, "endpoint(s) removed", endpointsRemoved);
        count(out, "endpoint(s) changed", endpointsChanged);
        return out.toString();
    }

    private static void count(StringBuilder out, String what, List<String> items) {
        if (!items.isEmpty()) {
            out.append(out.isEmpty() ? "" : ", ").append(items.size()).append(' ').append(what);
        }
    }

    private static String portName(Service service, ServicePort port) {
        return service.qualifiedName() + (port.name().isEmpty() ? "" : ":" + port.name()) + "/" + port.protocol();
    }

    private static Map<String, Service> byName(List<Service> services) {
        Map<String, Service> map = new LinkedHashMap<>();
        services.forEach(s -> map.put(s.qualifiedName(), s));
        return map;
    }

    private static Map<String, ServicePort> portsByKey(Service service) {
        Map<String, ServicePort> map = new LinkedHashMap<>();
        service.ports().forEach(p -> map.put(p.name() + "/" + p.protocol(), p));
        return map;
    }

    private static Map<String, Endpoint> endpointsByAddress(ServicePort port) {
        Map<String, Endpoint> map = new LinkedHashMap<>();
        port.endpoints().forEach(e -> map.put(Addresses.format(e.address()), e));
        return map;
    }
}

package dev.l4lb.core.model;

import java.util.List;
import java.util.Objects;

/**
 * A Kubernetes-style service: a namespaced name and its ports.
 *
 * @param namespace the namespace ({@code default} when the config gives a bare name)
 * @param name      the service name
 * @param ports     its ports, each with its own listeners and endpoints
 */
public record Service(String namespace, String name, List<ServicePort> ports) {

    public Service {
        Objects.requireNonNull(namespace, "namespace");
        Objects.requireNonNull(name, "name");
        ports = List.copyOf(ports);
    }

    /** {@code namespace/name}, the way kubectl and kube-proxy's logs name a service. */
    public String qualifiedName() {
        return namespace + "/" + name;
    }
}

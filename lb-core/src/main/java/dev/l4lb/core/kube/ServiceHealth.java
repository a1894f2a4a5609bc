package dev.l4lb.core.kube;

import java.util.Objects;

/**
 * What a service's healthCheckNodePort answers (externalTrafficPolicy Local): how many of its
 * endpoints run on this node. Load balancers send traffic only to nodes that answer 200.
 *
 * @param namespace      the service's namespace
 * @param name           the service's name
 * @param nodePort       the healthCheckNodePort
 * @param localEndpoints ready endpoints on this node
 */
public record ServiceHealth(String namespace, String name, int nodePort, int localEndpoints) {

    public ServiceHealth {
        Objects.requireNonNull(namespace, "namespace");
        Objects.requireNonNull(name, "name");
        if (nodePort < 1 || nodePort > 65535) {
            throw new IllegalArgumentException("healthCheckNodePort must be 1..65535: " + nodePort);
        }
        if (localEndpoints < 0) {
            throw new IllegalArgumentException("localEndpoints must be >= 0");
        }
    }
}

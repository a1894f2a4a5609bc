package dev.l4lb.core.kube;

import java.util.List;

import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import org.jspecify.annotations.Nullable;

/**
 * The Kubernetes objects a proxier reads: v1 Services and discovery/v1 EndpointSlices (v1
 * Endpoints from manifests arrive here already converted to slices), and the proxier's own v1
 * Node, whose zone label picks topology-hinted endpoints and whose deletion or
 * ToBeDeletedByClusterAutoscaler taint makes /healthz fail, as in kube-proxy.
 *
 * @param services the Services
 * @param slices   their EndpointSlices
 * @param nodes    Node objects; the proxier uses the one named as its node, if there is one
 */
public record ClusterObjects(List<Service> services, List<EndpointSlice> slices, List<Node> nodes) {

    public ClusterObjects {
        services = List.copyOf(services);
        slices = List.copyOf(slices);
        nodes = List.copyOf(nodes);
    }

    /** The Node called {@code name}, or null. */
    public @Nullable Node node(String name) {
        for (Node node : nodes) {
            if (node.getMetadata() != null && name.equals(node.getMetadata().getName())) {
                return node;
            }
        }
        return null;
    }
}

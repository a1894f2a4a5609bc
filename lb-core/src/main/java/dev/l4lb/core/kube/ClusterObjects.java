package dev.l4lb.core.kube;

import java.util.List;

import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;

/**
 * The Kubernetes objects a proxier reads: v1 Services and discovery/v1 EndpointSlices (v1
 * Endpoints from manifests arrive here already converted to slices).
 *
 * @param services the Services
 * @param slices   their EndpointSlices
 */
public record ClusterObjects(List<Service> services, List<EndpointSlice> slices) {

    public ClusterObjects {
        services = List.copyOf(services);
        slices = List.copyOf(slices);
    }
}

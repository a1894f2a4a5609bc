package dev.l4lb.core.model;

import java.net.InetSocketAddress;
import java.util.Objects;

/**
 * One backend of a service port, with the conditions of a Kubernetes EndpointSlice endpoint.
 *
 * @param address     where connections go (already resolved: a literal IP)
 * @param weight      relative share for weighted schedulers; 0 drains the endpoint
 * @param node        the node the endpoint runs on, or empty when unknown
 * @param ready       may take new connections
 * @param serving     is serving although maybe terminating (EndpointConditions.serving)
 * @param terminating is shutting down (EndpointConditions.terminating)
 * @param maxConnections concurrent connections this endpoint takes (IPVS's upper threshold);
 *                    0 is unlimited
 */
public record Endpoint(InetSocketAddress address, int weight, String node,
                       boolean ready, boolean serving, boolean terminating, int maxConnections) {

    public static final int DEFAULT_WEIGHT = 1;

    public Endpoint {
        Objects.requireNonNull(address, "address");
        Objects.requireNonNull(node, "node");
        if (address.isUnresolved()) {
            throw new IllegalArgumentException("endpoint address must be an IP: " + address);
        }
        if (weight < 0) {
            throw new IllegalArgumentException("weight must be >= 0: " + weight);
        }
        if (maxConnections < 0) {
            throw new IllegalArgumentException("maxConnections must be >= 0: " + maxConnections);
        }
    }

    /** A ready endpoint of weight 1 on no particular node. */
    public static Endpoint of(InetSocketAddress address) {
        return new Endpoint(address, DEFAULT_WEIGHT, "", true, true, false, 0);
    }

    /** This endpoint with another weight. */
    public Endpoint withWeight(int newWeight) {
        return new Endpoint(address, newWeight, node, ready, serving, terminating, maxConnections);
    }

    @Override
    public String toString() {
        return Addresses.format(address);
    }
}

package dev.l4lb.core.kube;

import java.net.InetSocketAddress;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

import dev.l4lb.core.model.Protocol;
import dev.l4lb.core.model.ShortCircuit;

/**
 * A balancer port no endpoint can serve, which the node refuses before the handshake, as
 * kube-proxy does, instead of accepting a client only to reset it: a checking load balancer then
 * sees the node as down, and a client is told at once.
 *
 * @param label        {@code namespace/name:port}, the balancer port as metrics and logs name it, for rule comments
 * @param protocol     TCP or UDP
 * @param destinations where its clients connect on the node: node ports, externalIPs and
 *                     load-balancer IPs (a wildcard address: every local address); not its proxy
 *                     listeners, which only portals send traffic to
 * @param clusterIps   the ClusterIP:ports portals (REDIRECT or TPROXY) send to it: matched by their
 *                     original destination, which REDIRECT's NAT does not change
 * @param refusal      how it is refused
 * @param spared       under {@link Refusal#DROP}: clients the port hands to a sibling port that has
 *                     endpoints (its short circuit), which must still get through; empty for none
 */
public record NoEndpointPort(String label, Protocol protocol, List<InetSocketAddress> destinations,
                             List<InetSocketAddress> clusterIps, Refusal refusal, Optional<ShortCircuit> spared) {

    public NoEndpointPort {
        Objects.requireNonNull(label, "label");
        Objects.requireNonNull(protocol, "protocol");
        destinations = List.copyOf(destinations);
        clusterIps = List.copyOf(clusterIps);
        Objects.requireNonNull(refusal, "refusal");
        Objects.requireNonNull(spared, "spared");
    }

    /** kube-proxy's two answers to a port without endpoints. */
    public enum Refusal {
        /** The Service port has no endpoint at all: the client is told so (connection refused). */
        REJECT,
        /**
         * It has endpoints, none this traffic may use (a Local traffic policy on a node without a
         * local one): no answer, so that an external load balancer's health check fails here.
         */
        DROP
    }
}

package dev.l4lb.core.kube;

import java.net.InetSocketAddress;
import java.util.List;

import dev.l4lb.core.model.Cidr;

/**
 * One kind of traffic of a Service port (ClusterIP, node port and externalIP, load-balancer IP):
 * where it arrives, and which endpoints it may use. Each becomes a balancer port of its own
 * unless another kind has the same endpoints and ranges.
 *
 * @param suffix       what the balancer port's name adds to the Service port's ("" for ClusterIP)
 * @param listen       addresses the balancer listens on
 * @param intercepted  ClusterIP:ports that arrive through the transparent listener
 * @param localOnly    the traffic policy is Local: only this node's endpoints
 * @param sourceRanges the clients admitted; empty: all
 * @param external     node port, externalIP or load-balancer traffic: under a Local policy, its
 *                     clients inside the cluster still go to every endpoint
 */
record TrafficKind(String suffix, List<InetSocketAddress> listen, List<InetSocketAddress> intercepted,
                   boolean localOnly, List<Cidr> sourceRanges, boolean external) {

    TrafficKind {
        listen = List.copyOf(listen);
        intercepted = List.copyOf(intercepted);
        sourceRanges = List.copyOf(sourceRanges);
    }

    /** Clients on the node and in its pods are handed to a port with every endpoint. */
    boolean shortCircuits() {
        return external && localOnly;
    }

    /** This kind with only these of its addresses. */
    TrafficKind with(List<InetSocketAddress> listen, List<InetSocketAddress> intercepted) {
        return new TrafficKind(suffix, listen, intercepted, localOnly, sourceRanges, external);
    }
}

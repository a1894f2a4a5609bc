package dev.l4lb.core.model;

import java.net.InetAddress;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * Clients a port hands to a sibling port of the same service. kube-proxy sends traffic that
 * starts on the node itself or in one of the cluster's pods to every endpoint of an
 * externalTrafficPolicy Local service ("route LOCAL traffic to cluster"; pod traffic by its
 * local-traffic detector), so that such a client is served on a node without a local endpoint;
 * only traffic from outside the cluster is kept to local endpoints, to keep its source IP.
 *
 * @param port      the sibling port (same service and protocol) whose endpoints serve these clients
 * @param addresses client addresses handed over: the node's own
 * @param ranges    client ranges handed over: the cluster's pod CIDRs
 */
public record ShortCircuit(String port, Set<InetAddress> addresses, List<Cidr> ranges) {

    public ShortCircuit {
        Objects.requireNonNull(port, "port");
        addresses = Set.copyOf(addresses);
        ranges = List.copyOf(ranges);
    }

    /** Is this client handed to the sibling port? */
    public boolean covers(InetAddress client) {
        return addresses.contains(client) || Cidr.anyContains(ranges, client);
    }
}

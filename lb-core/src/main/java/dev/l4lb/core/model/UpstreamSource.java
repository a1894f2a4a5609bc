package dev.l4lb.core.model;

import java.net.InetAddress;
import java.util.List;
import java.util.Objects;

/**
 * The address a port's connections to its endpoints come from. A proxy's own address is the
 * usual, and then an endpoint sees the balancer as its client. Connecting from the client's own
 * address instead (HAProxy's {@code source 0.0.0.0 usesrc clientip}) keeps what kube-proxy's
 * kernel modes keep: under externalTrafficPolicy Local, and for pods calling a Service, the pod
 * sees who called. That needs the node's help (a transparent socket, and the endpoint's replies
 * routed back through the node to it); where the node cannot give it the balancer connects from
 * its own address, as kube-proxy masquerades.
 *
 * @param mode    whose address
 * @param clients with {@link Mode#CLIENT}: the clients connected from their own address (the
 *                cluster's pods, for ClusterIP traffic); empty: every client
 */
public record UpstreamSource(Mode mode, List<Cidr> clients) {

    /** Every connection from the balancer's own address: the default. */
    public static final UpstreamSource BALANCER = new UpstreamSource(Mode.BALANCER, List.of());

    /** Whose address an endpoint sees. */
    public enum Mode {
        /** The balancer's (the kernel picks the source address, as for any client socket). */
        BALANCER,
        /** The client's, where the node lets the balancer use it. */
        CLIENT
    }

    public UpstreamSource {
        Objects.requireNonNull(mode, "mode");
        clients = List.copyOf(clients);
        if (mode == Mode.BALANCER && !clients.isEmpty()) {
            throw new IllegalArgumentException("client ranges mean nothing when connecting from the balancer's address");
        }
    }

    /** Connections of the clients in {@code clients} (empty: all) from the client's own address. */
    public static UpstreamSource client(List<Cidr> clients) {
        return new UpstreamSource(Mode.CLIENT, clients);
    }

    /** Whether this client's connections should come from its own address (per connection: no allocation). */
    public boolean fromClient(InetAddress client) {
        return mode == Mode.CLIENT && (clients.isEmpty() || Cidr.anyContains(clients, client));
    }

    /** The name configs and the API use: {@code balancer} or {@code client}. */
    public String configName() {
        return mode == Mode.CLIENT ? "client" : "balancer";
    }
}

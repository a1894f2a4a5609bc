package dev.l4lb.netty.tcp;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.HashSet;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.l4lb.core.model.Addresses;
import dev.l4lb.core.model.UpstreamSource;
import dev.l4lb.core.sched.Backend;
import dev.l4lb.core.table.Route;
import dev.l4lb.core.table.ServiceSnapshot;

/**
 * Whether this node lets the balancer connect to an endpoint from its client's own address (a
 * transparent socket bound to it, {@link UpstreamSource.Mode#CLIENT}), and the endpoints where
 * that was found not to work. Off until whoever owns the node's rules says the endpoints' replies
 * are steered back to the balancer's sockets (Kubernetes mode's reply path); without that, a
 * reply would go to the client itself, which would reset it.
 *
 * <p>An endpoint whose replies do not come back through this node (a pod that does not route via
 * it, pods bridged to each other) never answers a connect from the client's address; the
 * connector then connects from the node's address and reports it here, and later connections to
 * that endpoint go from the node's address at once. Said once per endpoint in the log and shown
 * on {@code /api/v1/services}.
 */
public final class ClientSourceConnects {
    private static final Logger LOG = LoggerFactory.getLogger(ClientSourceConnects.class);
    private static final String NOT_SET_UP = "nothing steers the endpoints' replies back to the balancer (Kubernetes mode with portals does)";
    /** Endpoints remembered as bypassing the node, at most: a cluster's endpoints, with room. */
    static final int MAX_BYPASSING = 65_536;

    /** Why the transport cannot connect from another address (no IP_TRANSPARENT); null when it can. */
    private final @Nullable String transportProblem;
    /** Why IPv4 (IPv6) connections cannot come from clients' addresses; null when they can. */
    private volatile @Nullable String offV4 = NOT_SET_UP;
    private volatile @Nullable String offV6 = NOT_SET_UP;
    /** This node's addresses: an endpoint there answers from the node's own stack, which no rule steers back. */
    private volatile Set<InetAddress> nodeAddresses = Set.of();
    private final Map<InetSocketAddress, String> bypassing = new ConcurrentHashMap<>();

    /** @param transportProblem why the transport cannot bind a transparent socket; null when it can */
    ClientSourceConnects(@Nullable String transportProblem) {
        this.transportProblem = transportProblem;
    }

    /**
     * Whether the endpoints' replies to clients' addresses reach the balancer's transparent
     * sockets, per family, from now on: connections come from clients' addresses where ports ask
     * for it and the family's reply path is there.
     *
     * @param ipv4 why IPv4 replies do not; null when they do
     * @param ipv6 the same for IPv6
     */
    public void replyPath(@Nullable String ipv4, @Nullable String ipv6) {
        offV4 = transportProblem != null ? transportProblem : ipv4;
        offV6 = transportProblem != null ? transportProblem : ipv6;
    }

    /** This node's addresses now: endpoints on them (host-network pods) are connected from the node's address. */
    public void nodeAddresses(Set<InetAddress> addresses) {
        nodeAddresses = Set.copyOf(addresses);
    }

    /** Why IPv4 connections cannot come from clients' addresses on this node; empty when they can. */
    public Optional<String> offReason(boolean ipv6) {
        return Optional.ofNullable(ipv6 ? offV6 : offV4);
    }

    /**
     * Whether a connection of {@code client} to {@code endpoint} goes from the client's address.
     * Not for a loopback client (its address cannot leave the node), nor a pod calling itself
     * through a Service (its own address would come back to it; kube-proxy masquerades that
     * hairpin too), nor across address families. Per connection: no allocation.
     */
    boolean fromClient(UpstreamSource source, InetAddress client, InetSocketAddress endpoint) {
        if (source.mode() != UpstreamSource.Mode.CLIENT) {
            return false;
        }
        InetAddress target = endpoint.getAddress();
        boolean v4 = client instanceof Inet4Address;
        return (v4 ? offV4 : offV6) == null && v4 == (target instanceof Inet4Address)
                && source.fromClient(client) && !client.isLoopbackAddress() && !client.equals(target)
                && !nodeAddresses.contains(target) && (bypassing.isEmpty() || !bypassing.containsKey(endpoint));
    }

    /**
     * A connect from a client's address to {@code endpoint} failed ({@code cause}) where one from
     * the node's address then succeeded: its replies do not come back through this node.
     */
    void repliesBypass(InetSocketAddress endpoint, Throwable cause) {
        if (bypassing.size() >= MAX_BYPASSING) {
            return; // every connection to it keeps trying the client's address first: slower, never wrong
        }
        String why = cause.getMessage() != null ? cause.getMessage() : cause.getClass().getSimpleName();
        if (bypassing.putIfAbsent(endpoint, why) == null) {
            LOG.warn("endpoint {} did not answer a connect from a client's address ({}), but answered one from this node's: "
                    + "its replies do not come back through this node; its connections come from the node's address from now on",
                    Addresses.format(endpoint), why);
        }
    }

    /**
     * Forgets the endpoints {@code snapshot} no longer has: a pod's address comes back with
     * another pod, whose replies may well pass through the node.
     */
    public void forgetAllBut(ServiceSnapshot snapshot) {
        if (bypassing.isEmpty()) {
            return;
        }
        Set<InetSocketAddress> endpoints = new HashSet<>();
        for (Route route : snapshot.routes()) {
            for (Backend backend : route.backends()) {
                endpoints.add(backend.address());
            }
        }
        bypassing.keySet().retainAll(endpoints);
    }

    /** The endpoints whose connections come from the node's address because their replies bypass it, with why. */
    public Map<InetSocketAddress, String> bypassing() {
        return Map.copyOf(bypassing);
    }
}

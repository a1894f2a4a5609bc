package dev.l4lb.netty.tcp;

import java.net.BindException;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

import io.netty.channel.ChannelException;
import io.netty.channel.ConnectTimeoutException;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.l4lb.core.model.Addresses;
import dev.l4lb.core.model.Cidr;
import dev.l4lb.core.model.UpstreamSource;
import dev.l4lb.core.sched.Backend;
import dev.l4lb.core.table.Route;
import dev.l4lb.core.table.ServiceSnapshot;

/**
 * Whether this node lets the balancer connect to an endpoint from its client's own address (a
 * transparent socket bound to it, {@link UpstreamSource.Mode#CLIENT}), and where that was found
 * not to work. Off until whoever owns the node's rules says the endpoints' replies are steered
 * back to the balancer's sockets (Kubernetes mode's reply path); without that, a reply would go
 * to the client itself, which would reset it.
 *
 * <p>Where the reply cannot come back it is not tried: a loopback client, a pod calling itself,
 * an endpoint on the node's own addresses or outside the pod ranges the reply path watches, a
 * client and endpoint on one of the node's on-link subnets (pods on one bridge answer each other
 * without the node's IP stack). Elsewhere an endpoint may still not route its replies through
 * this node: its first connect from a client's address times out. Then, as long as no such
 * connect to it ever worked for that kind of client (pods, or clients from outside), the
 * connector connects it from the node's address, and when that works the endpoint is remembered
 * as bypassing the node for that kind of client, said once in the log and shown on
 * {@code /api/v1/services}, and tried from a client's address again by one connection every
 * {@link #RETRY_AFTER}. Once a connect from a client's address to an endpoint has worked, a
 * timeout there is the endpoint's failure, with no second try from the node: a client that a
 * NetworkPolicy keeps out stays out.
 */
public final class ClientSourceConnects {
    private static final Logger LOG = LoggerFactory.getLogger(ClientSourceConnects.class);
    private static final String NOT_SET_UP = "nothing steers the endpoints' replies back to the balancer (Kubernetes mode with portals does)";
    /** Endpoints remembered per kind of client, at most: a cluster's endpoints, with room. */
    static final int MAX_ENDPOINTS = 65_536;
    /**
     * How long an endpoint found bypassing the node is connected from the node's address before
     * one connection tries the client's again: routes get fixed; the price of trying is one
     * connect timeout.
     */
    static final Duration RETRY_AFTER = Duration.ofMinutes(5);

    /** What a failed connect from a client's address calls for. */
    enum AfterFailure {
        /** The endpoint's failure, as from the node's address: the next endpoint. */
        FAILED,
        /** This connection only: the same endpoint from the node's address (a local error, not the endpoint's). */
        RETRY_FROM_NODE,
        /** The same endpoint from the node's address; if that works, its replies bypass the node. */
        PROBE_FROM_NODE
    }

    /** Why the transport cannot connect from another address (no IP_TRANSPARENT); null when it can. */
    private final @Nullable String transportProblem;
    private final long retryAfterNanos;
    /** Why IPv4 (IPv6) connections cannot come from clients' addresses; null when they can. */
    private volatile @Nullable String offV4 = NOT_SET_UP;
    private volatile @Nullable String offV6 = NOT_SET_UP;
    /** Where the reply path takes endpoints' replies from (the pod ranges); empty: anywhere. */
    private volatile List<Cidr> endpointRanges = List.of();
    /** This node's addresses: an endpoint there answers from the node's own stack, which no rule steers back. */
    private volatile Set<InetAddress> nodeAddresses = Set.of();
    /** The subnets on the node's interfaces (a bridge's): a client and an endpoint on one answer each other directly. */
    private volatile List<Cidr> onLink = List.of();
    /** Per kind of client (index 0: from outside the pod ranges, 1: a pod): endpoints whose replies bypass the node. */
    private final List<Map<InetSocketAddress, Bypass>> bypassing = List.of(new ConcurrentHashMap<>(), new ConcurrentHashMap<>());
    /** Per kind of client: endpoints a connect from a client's address has reached. */
    private final List<Set<InetSocketAddress>> reached = List.of(ConcurrentHashMap.newKeySet(), ConcurrentHashMap.newKeySet());
    private final LongAdder fromNodeAfterFailure = new LongAdder();

    /** Why an endpoint's connections come from the node, until when ({@link System#nanoTime}). */
    private record Bypass(String why, long untilNanos) {
    }

    /** @param transportProblem why the transport cannot bind a transparent socket; null when it can */
    ClientSourceConnects(@Nullable String transportProblem) {
        this(transportProblem, RETRY_AFTER);
    }

    ClientSourceConnects(@Nullable String transportProblem, Duration retryAfter) {
        this.transportProblem = transportProblem;
        this.retryAfterNanos = retryAfter.toNanos();
    }

    /**
     * Whether the endpoints' replies to clients' addresses reach the balancer's transparent
     * sockets, per family, from now on: connections come from clients' addresses where ports ask
     * for it and the family's reply path is there.
     *
     * @param ipv4           why IPv4 replies do not; null when they do
     * @param ipv6           the same for IPv6
     * @param endpointRanges where the reply path takes replies from (the pod ranges); empty: anywhere
     */
    public void replyPath(@Nullable String ipv4, @Nullable String ipv6, List<Cidr> endpointRanges) {
        this.endpointRanges = List.copyOf(endpointRanges);
        offV4 = transportProblem != null ? transportProblem : ipv4;
        offV6 = transportProblem != null ? transportProblem : ipv6;
    }

    /** This node's addresses and its interfaces' subnets now (loopback and host routes left out). */
    public void node(Set<InetAddress> addresses, List<Cidr> subnets) {
        nodeAddresses = Set.copyOf(addresses);
        onLink = List.copyOf(subnets);
    }

    /** Why IPv4 ({@code ipv6} false) or IPv6 connections cannot come from clients' addresses here; empty when they can. */
    public Optional<String> offReason(boolean ipv6) {
        return Optional.ofNullable(ipv6 ? offV6 : offV4);
    }

    /**
     * Whether a connection of {@code client} to {@code endpoint} goes from the client's address
     * (see the class comment for when not). Per connection: for IPv4 no allocation (an IPv6
     * range check copies the addresses).
     */
    boolean fromClient(UpstreamSource source, InetAddress client, InetSocketAddress endpoint) {
        if (source.mode() != UpstreamSource.Mode.CLIENT) {
            return false;
        }
        InetAddress target = endpoint.getAddress();
        boolean v4 = client instanceof Inet4Address;
        if ((v4 ? offV4 : offV6) != null || v4 != (target instanceof Inet4Address) || !source.fromClient(client)
                || client.isLoopbackAddress() || client.equals(target) || nodeAddresses.contains(target)) {
            return false;
        }
        if (!watched(target)) {
            return false; // its replies would not be taken back: the API server's, an endpoint outside the cluster
        }
        for (Cidr subnet : onLink) {
            if (subnet.contains(client) && subnet.contains(target)) {
                return false;
            }
        }
        Map<InetSocketAddress, Bypass> bypassed = bypassing.get(kind(client));
        return bypassed.isEmpty() || !bypassed(bypassed, endpoint);
    }

    /**
     * Whether the reply path takes replies from {@code address}: it is in a pod range of its
     * family, or there is none of that family (the rule then takes them from anywhere).
     */
    private boolean watched(InetAddress address) {
        boolean v4 = address instanceof Inet4Address;
        boolean familyHasRanges = false;
        for (Cidr range : endpointRanges) {
            if ((range.network() instanceof Inet4Address) == v4) {
                if (range.contains(address)) {
                    return true;
                }
                familyHasRanges = true;
            }
        }
        return !familyHasRanges;
    }

    /** 1 for a pod (a client in the pod ranges), 0 for any other. */
    private int kind(InetAddress client) {
        List<Cidr> ranges = endpointRanges;
        return !ranges.isEmpty() && Cidr.anyContains(ranges, client) ? 1 : 0;
    }

    /**
     * Whether {@code endpoint}'s connections come from the node's address now. When it is due for
     * another try, the one connection that claims it tries the client's address; the others go
     * from the node meanwhile. No allocation but that claim's, once per {@link #RETRY_AFTER}.
     */
    private boolean bypassed(Map<InetSocketAddress, Bypass> bypassed, InetSocketAddress endpoint) {
        Bypass bypass = bypassed.get(endpoint);
        if (bypass == null) {
            return false;
        }
        long now = System.nanoTime();
        if (now - bypass.untilNanos() < 0) {
            return true;
        }
        return !bypassed.replace(endpoint, bypass, new Bypass(bypass.why(), now + retryAfterNanos));
    }

    /** A connect from {@code client}'s address to {@code endpoint} worked: its replies come back through the node. */
    void reached(InetAddress client, InetSocketAddress endpoint) {
        int kind = kind(client);
        Set<InetSocketAddress> seen = reached.get(kind);
        if (!seen.contains(endpoint) && seen.size() < MAX_ENDPOINTS) {
            seen.add(endpoint);
        }
        Map<InetSocketAddress, Bypass> bypassed = bypassing.get(kind);
        if (!bypassed.isEmpty() && bypassed.remove(endpoint) != null) {
            LOG.info("endpoint {} answers connects from clients' addresses again", Addresses.format(endpoint));
        }
    }

    /**
     * A connect from {@code client}'s address to {@code endpoint} failed with {@code cause}: a
     * timeout where no such connect ever worked may be replies routed past the node (probe from
     * the node); a local error (the bind, the transparent option) is this connection's (retry
     * from the node); anything else (refused, unreachable, a timeout where it worked before) is
     * the endpoint's, as it would be from the node's address.
     */
    AfterFailure afterFailure(InetAddress client, InetSocketAddress endpoint, Throwable cause) {
        if (cause instanceof ChannelException || cause instanceof BindException
                || (cause.getMessage() != null && cause.getMessage().contains("bind("))) {
            return AfterFailure.RETRY_FROM_NODE;
        }
        if (cause instanceof ConnectTimeoutException && !reached.get(kind(client)).contains(endpoint)) {
            return AfterFailure.PROBE_FROM_NODE;
        }
        return AfterFailure.FAILED;
    }

    /**
     * After a failed connect from a client's address ({@code cause}), one from the node's address
     * to {@code endpoint} worked; when the failure was a timeout ({@code probe}), the endpoint's
     * replies to that kind of client bypass this node.
     */
    void connectedFromNode(InetAddress client, InetSocketAddress endpoint, Throwable cause, boolean probe) {
        fromNodeAfterFailure.increment();
        if (!probe) {
            return;
        }
        Map<InetSocketAddress, Bypass> bypassed = bypassing.get(kind(client));
        if (bypassed.size() >= MAX_ENDPOINTS && !bypassed.containsKey(endpoint)) {
            return; // its connections keep trying the client's address first: slower, never wrong
        }
        String why = cause.getMessage() != null ? cause.getMessage() : cause.getClass().getSimpleName();
        if (bypassed.put(endpoint, new Bypass(why, System.nanoTime() + retryAfterNanos)) == null) {
            LOG.warn("endpoint {} did not answer a connect from a {} client's address ({}), but answered one from this node's: "
                    + "its replies do not come back through this node; such connections to it come from the node's address "
                    + "(the client's is tried again every {} s)", Addresses.format(endpoint),
                    bypassing.indexOf(bypassed) == 1 ? "pod" : "non-pod", why, retryAfterNanos / 1_000_000_000L);
        }
    }

    /** IP_TRANSPARENT itself was refused (a seccomp or LSM policy): connect from the node's address from now on. */
    void transparentRefused(Throwable cause) {
        String why = "IP_TRANSPARENT was refused: " + cause.getMessage();
        if (offV4 == null || offV6 == null) {
            LOG.warn("pods see this node's address, not their clients': {}", why);
        }
        offV4 = why;
        offV6 = why;
    }

    /** Connections that went from the node's address after a connect from a client's address failed. */
    public long fromNodeAfterFailure() {
        return fromNodeAfterFailure.sum();
    }

    /**
     * Forgets the endpoints {@code snapshot} no longer has: a pod's address comes back with
     * another pod, whose replies may well pass through the node.
     */
    public void forgetAllBut(ServiceSnapshot snapshot) {
        if (bypassing.stream().allMatch(Map::isEmpty) && reached.stream().allMatch(Set::isEmpty)) {
            return;
        }
        Set<InetSocketAddress> endpoints = new HashSet<>();
        for (Route route : snapshot.routes()) {
            for (Backend backend : route.backends()) {
                endpoints.add(backend.address());
            }
        }
        bypassing.forEach(map -> map.keySet().retainAll(endpoints));
        reached.forEach(set -> set.retainAll(endpoints));
    }

    /**
     * The endpoints found bypassing the node for some kind of client, with why: such connections
     * to them come from the node's address (but for one every {@link #RETRY_AFTER}).
     */
    public Map<InetSocketAddress, String> bypassing() {
        Map<InetSocketAddress, String> why = new HashMap<>();
        bypassing.forEach(map -> map.forEach((endpoint, bypass) -> why.putIfAbsent(endpoint, bypass.why())));
        return Map.copyOf(why);
    }
}

package dev.l4lb.core.table;

import java.net.InetAddress;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

import org.jspecify.annotations.Nullable;

import dev.l4lb.core.limits.ClientKey;
import dev.l4lb.core.limits.ClientRefusal;
import dev.l4lb.core.limits.PortLimiter;
import dev.l4lb.core.sched.Backend;
import dev.l4lb.core.sched.ConnectError;

/**
 * One client's way onto a service port, the same for a TCP connection and a UDP session: the
 * port's source ranges, the route for this client (a node or pod client of an
 * externalTrafficPolicy Local port is served by every endpoint), the port's limit, then endpoints
 * as the scheduler picks them, each claimed within its own limit, never one this client already
 * failed on or lost to another event loop. One per connection or session, on its event loop.
 */
public final class Admission {
    private final InetAddress client;
    /** The client's source port, for a scheduler hashing it (0 when unknown). */
    private final int clientPort;
    private Route route;
    /** Endpoints claimed so far may not outnumber the port's endpoints (at least one try). */
    private int claimsLeft;
    /**
     * Endpoints not to pick again for this client: they failed it, or another event loop took
     * their last free slot first. Allocated only when that happens.
     */
    private @Nullable List<Backend> excluded;
    /**
     * The endpoint whose connect failed last, so that a refused client's log line names who
     * refused it; null until one fails. Set only on failure: the served path stores nothing.
     */
    private @Nullable Backend lastFailed;
    private boolean admitted;
    /** The client's key in the port's client table, taken once (an IPv6 one costs a copy of the address). */
    private long keyHigh;
    private long keyLow;

    /** An admission of {@code client} to the port {@code route} serves; nothing is checked or held yet. */
    public Admission(Route route, InetAddress client) {
        this(route, client, 0);
    }

    /** As above, with the client's source port, which a port with {@code hashKey: clientIpPort} hashes. */
    public Admission(Route route, InetAddress client, int clientPort) {
        this.route = route;
        this.client = client;
        this.clientPort = clientPort;
    }

    /**
     * Checks the client against the port: null when it is admitted, holding one of the port's
     * slots (and, under per-client limits, one of the client's) until {@link #release}; otherwise
     * why not ({@link Outcome#DENIED_SOURCE}, {@link Outcome#REFUSED_LIMIT}, or one of the
     * per-client refusals), which the caller counts.
     */
    public @Nullable Outcome admit() {
        if (!route.policy().allowsSource(client)) {
            return Outcome.DENIED_SOURCE;
        }
        route = route.forClient(client);
        if (!route.counters().tryAdmit(route.policy().maxConnections())) {
            return Outcome.REFUSED_LIMIT;
        }
        PortLimiter limiter = route.limiter();
        if (limiter.active()) {
            if (limiter.tracksClients()) {
                takeKey(limiter.key());
            }
            ClientRefusal refusal = limiter.admit(keyHigh, keyLow, System.nanoTime());
            if (refusal != null) {
                route.counters().release();
                return switch (refusal) {
                    case PORT_RATE -> Outcome.REFUSED_PORT_RATE;
                    case CLIENT_CONNECTIONS -> Outcome.REFUSED_CLIENT_CONNECTIONS;
                    case CLIENT_RATE -> Outcome.REFUSED_CLIENT_RATE;
                    case CLIENT_TABLE_FULL -> Outcome.REFUSED_CLIENT_TABLE_FULL;
                };
            }
        }
        admitted = true;
        claimsLeft = Math.max(1, route.backends().size());
        return null;
    }

    /**
     * The scheduler's next choice, already counted as active on that endpoint (within its limit);
     * null when out of tries or of endpoints with room ({@link #refusal} says which).
     */
    public @Nullable Backend next() {
        // Each round either returns or excludes one more endpoint, so this ends within the endpoint count.
        while (claimsLeft > 0) {
            Backend candidate = route.scheduler().pick(client, clientPort, excluded == null ? List.of() : excluded);
            if (candidate == null) {
                return null;
            }
            if (candidate.tryAcquire()) {
                claimsLeft--;
                return candidate;
            }
            exclude(candidate); // another event loop took its last free slot since the pick
        }
        return null;
    }

    /**
     * {@code backend} failed this client (its connect failed, or it answered ICMP unreachable):
     * the scheduler hears of it (a ClientIP entry to it goes), the endpoint records why, and it is
     * not picked again for this client. The caller has released the endpoint's count.
     */
    public void failed(Backend backend, Throwable cause) {
        route.scheduler().connectFailed(backend, client);
        String reason = cause.getMessage() != null ? cause.getMessage() : cause.toString();
        backend.recordConnectError(new ConnectError(Instant.now(), reason));
        backend.health().connectFailed(reason, System.nanoTime());
        lastFailed = backend;
        exclude(backend);
    }

    /**
     * Why {@link #next} found no endpoint: they failed, they are full, or there is none to serve
     * (none configured or ready, or all out by their health on a port that does not fail open).
     */
    public Outcome refusal() {
        if (lastFailed != null) {
            return Outcome.CONNECT_FAILED;
        }
        boolean noneInService = route.health().allOut() && !route.health().failingOpen();
        return route.scheduler().hasEligible() && !noneInService ? Outcome.REFUSED_LIMIT : Outcome.NO_ENDPOINT;
    }

    /** The endpoint whose connect failed last; null when none failed this client. */
    public @Nullable Backend lastFailed() {
        return lastFailed;
    }

    /** Gives back the port's slot {@link #admit} took, and the client's, once; nothing when it took none. */
    public void release() {
        if (admitted) {
            admitted = false;
            route.counters().release();
            route.limiter().release(keyHigh, keyLow); // admitted: it holds the client's slot, if it tracks clients
        }
    }

    /** The route the client is served by: after {@link #admit}, the one for this client. */
    public Route route() {
        return route;
    }

    public InetAddress client() {
        return client;
    }

    private void takeKey(ClientKey key) {
        if (ClientKey.isV4(client)) {
            keyLow = ClientKey.v4Low(client);
        } else {
            byte[] bytes = client.getAddress();
            keyHigh = key.high(bytes);
            keyLow = key.low(bytes);
        }
    }

    private void exclude(Backend backend) {
        if (excluded == null) {
            excluded = new ArrayList<>(2);
        }
        excluded.add(backend);
    }
}

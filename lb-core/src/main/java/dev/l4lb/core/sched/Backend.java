package dev.l4lb.core.sched;

import java.net.InetSocketAddress;
import java.util.Objects;

import dev.l4lb.core.health.EndpointHealth;
import dev.l4lb.core.model.Endpoint;

/**
 * An endpoint as the data plane and the schedulers see it: the configured value and its live
 * counters.
 *
 * @param endpoint the configured endpoint
 * @param counters its connection counts, shared with the snapshots before and after this one
 * @param health   whether it is in service: its counters' own, held here too so that a pick reads
 *                 it in two hops, as it reads the endpoint's limit, not three (with three, Maglev's
 *                 pick over 100 endpoints, which lands on endpoints at random, measured +7% and
 *                 +17% against the code before health in two noisy rounds; with two, -1% and +8%)
 */
public record Backend(Endpoint endpoint, EndpointCounters counters, EndpointHealth health) {

    public Backend {
        Objects.requireNonNull(endpoint, "endpoint");
        Objects.requireNonNull(counters, "counters");
        if (health != counters.health()) {
            throw new IllegalArgumentException("a backend's health is its counters' own");
        }
    }

    /** The endpoint with these counters (and their health). */
    public Backend(Endpoint endpoint, EndpointCounters counters) {
        this(endpoint, counters, counters.health());
    }

    /** A backend with counters of its own, for an endpoint not seen before. */
    public static Backend of(Endpoint endpoint) {
        return new Backend(endpoint, new EndpointCounters(endpoint.address()));
    }

    /** Where to connect. */
    public InetSocketAddress address() {
        return endpoint.address();
    }

    public int weight() {
        return endpoint.weight();
    }

    /** Connections given to this endpoint and not closed yet. */
    public int active() {
        return counters.active();
    }

    /** May this endpoint take new connections under Kubernetes' rules (ready, weight above 0)? */
    public boolean acceptsNew() {
        return Eligibility.acceptsNew(endpoint);
    }

    /** Usable in the terminating fallback: serving although terminating, and not drained. */
    public boolean servingTerminating() {
        return Eligibility.servingTerminating(endpoint);
    }

    /**
     * Not taken out by its health checks or by outlier detection (or every endpoint of the port is
     * out and the port fails open). One volatile read while it is in service.
     */
    public boolean inService() {
        return health.inService();
    }

    /** True while the endpoint is below its {@code maxConnections} (always, without a limit). */
    public boolean hasRoom() {
        int limit = endpoint.maxConnections();
        return limit == 0 || counters.active() < limit;
    }

    /**
     * Gives a new connection to this endpoint: counts it as active, unless the endpoint is at its
     * limit (then false, and nothing is counted). Every true is followed by one {@link #release}.
     */
    public boolean tryAcquire() {
        return counters.tryAcquire(endpoint.maxConnections());
    }

    /** The connection {@link #tryAcquire} counted has closed, or its connect failed. */
    public void release() {
        counters.release();
    }

    /** The connect of a connection {@link #tryAcquire} counted has completed, successfully or not. */
    public void connectDone() {
        counters.connectDone();
    }

    /** The connection reached the endpoint after {@code connectNanos} (for the total and the latency). */
    public void recordEstablished(long connectNanos) {
        counters.recordEstablished(connectNanos);
    }

    /**
     * Traffic reached the endpoint: a TCP connect completed, or a UDP session got its first
     * answer. Ends the run of failures outlier detection counts.
     */
    public void reached() {
        health.connectSucceeded();
    }

    /** Keeps the reason of a failed connect, for the stats page and the API. */
    public void recordConnectError(ConnectError error) {
        counters.recordConnectError(error);
    }

    public void recordConnectFailure() {
        counters.recordConnectFailure();
    }

    @Override
    public String toString() {
        return endpoint.toString();
    }
}

package dev.l4lb.core.sched;

import java.net.InetSocketAddress;
import java.util.Objects;

import dev.l4lb.core.model.Endpoint;

/**
 * An endpoint as the data plane and the schedulers see it: the configured value and its live
 * counters.
 *
 * @param endpoint the configured endpoint
 * @param counters its connection counts, shared with the snapshots before and after this one
 */
public record Backend(Endpoint endpoint, EndpointCounters counters) {

    public Backend {
        Objects.requireNonNull(endpoint, "endpoint");
        Objects.requireNonNull(counters, "counters");
    }

    /** Where to connect. */
    public InetSocketAddress address() {
        return endpoint.address();
    }

    /** May this endpoint take new connections under Kubernetes' rules (ready, weight above 0)? */
    public boolean acceptsNew() {
        return endpoint.ready() && endpoint.weight() > 0;
    }

    /** Usable in the terminating fallback: serving although terminating, and not drained. */
    public boolean servingTerminating() {
        return endpoint.serving() && endpoint.terminating() && endpoint.weight() > 0;
    }

    @Override
    public String toString() {
        return endpoint.toString();
    }
}

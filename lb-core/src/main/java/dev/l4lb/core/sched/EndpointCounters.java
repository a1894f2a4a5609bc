package dev.l4lb.core.sched;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;

/**
 * Live connection counts of one endpoint. They outlive a snapshot: a reload that keeps the
 * endpoint hands the same counters to the new snapshot, so least-connection decisions and
 * limits stay right across reloads.
 */
public final class EndpointCounters {
    private final AtomicInteger active = new AtomicInteger();
    private final LongAdder opened = new LongAdder();
    private final LongAdder connectFailures = new LongAdder();

    /** Connections open to this endpoint now. */
    public int active() {
        return active.get();
    }

    /** Connections ever established to this endpoint. */
    public long opened() {
        return opened.sum();
    }

    /** Connect attempts to this endpoint that failed (refused, timed out, unreachable). */
    public long connectFailures() {
        return connectFailures.sum();
    }

    void recordOpened() {
        active.incrementAndGet();
        opened.increment();
    }

    void recordClosed() {
        active.decrementAndGet();
    }

    void recordConnectFailure() {
        connectFailures.increment();
    }
}

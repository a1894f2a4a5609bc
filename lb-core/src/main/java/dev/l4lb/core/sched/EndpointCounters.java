package dev.l4lb.core.sched;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;

/**
 * Live connection counts of one endpoint of one service port. They outlive a snapshot: a reload
 * that keeps the endpoint hands the same counters to the new snapshot, so least-connection
 * decisions and limits stay right across reloads.
 *
 * <p>A connection counts as active from the moment it is given to the endpoint (connect still in
 * progress) until it closes, as IPVS counts from the forwarded SYN: a burst of new connections
 * then spreads instead of piling onto the endpoint that looked idle before any connect finished.
 */
public final class EndpointCounters {
    private final AtomicInteger active = new AtomicInteger();
    private final LongAdder established = new LongAdder();
    private final LongAdder connectFailures = new LongAdder();
    /** The newest least-load index this endpoint belongs to, told of every change of {@link #active}. */
    private volatile LoadIndex.Slot watcher;

    /** Connections given to this endpoint and not closed yet (connecting or established). */
    public int active() {
        return active.get();
    }

    /** Connections ever established to this endpoint. */
    public long established() {
        return established.sum();
    }

    /** Connect attempts to this endpoint that failed (refused, timed out, unreachable). */
    public long connectFailures() {
        return connectFailures.sum();
    }

    /**
     * Counts a new connection unless {@code limit} are active already (0: no limit). Exact under
     * concurrency: the check and the increment are one compare-and-set.
     */
    boolean tryAcquire(int limit) {
        int now;
        do {
            now = active.get();
            if (limit > 0 && now >= limit) {
                return false;
            }
        } while (!active.compareAndSet(now, now + 1));
        changed();
        return true;
    }

    void release() {
        active.decrementAndGet();
        changed();
    }

    void recordEstablished() {
        established.increment();
    }

    void recordConnectFailure() {
        connectFailures.increment();
    }

    /** From now on tell {@code slot} when the active count changes. */
    void watchBy(LoadIndex.Slot slot) {
        watcher = slot;
    }

    /** Stops reporting to the index of an earlier snapshot (a snapshot going into service calls this). */
    public void unwatch() {
        watcher = null;
    }

    private void changed() {
        LoadIndex.Slot slot = watcher;
        if (slot != null) {
            slot.changed();
        }
    }
}

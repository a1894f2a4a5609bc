package dev.l4lb.core.limits;

import java.util.concurrent.atomic.AtomicLong;

import dev.l4lb.core.model.Rate;

/**
 * A port's rate of new connections, shared by every event loop: a token bucket kept as GCRA (the
 * generic cell rate algorithm) on one AtomicLong, the time at which the bucket will be full again,
 * so that taking a token is one compare-and-set and nothing is locked or refilled by a timer.
 */
public final class PortRate {
    private final long interval;
    private final long tolerance;
    /** The theoretical arrival time: when the bucket is full again. */
    private final AtomicLong full;

    /** A bucket for {@code rate}, full at {@code nowNanos}. */
    public PortRate(Rate rate, long nowNanos) {
        this.interval = rate.intervalNanos();
        this.tolerance = rate.toleranceNanos();
        this.full = new AtomicLong(nowNanos);
    }

    /** Takes a token at {@code nowNanos} ({@link System#nanoTime}); false when there is none. */
    public boolean tryAcquire(long nowNanos) {
        while (true) {
            long current = full.get();
            long next = Math.max(current - nowNanos, 0) + interval;
            if (next > tolerance) {
                return false;
            }
            if (full.compareAndSet(current, nowNanos + next)) {
                return true;
            }
        }
    }

    /** Gives back a token {@link #tryAcquire} took for a connection that was then refused for another reason. */
    public void giveBack() {
        full.addAndGet(-interval);
    }
}

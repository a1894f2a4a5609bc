package dev.l4lb.core.health;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;

import org.jspecify.annotations.Nullable;

import dev.l4lb.core.model.Addresses;

/**
 * The health of one endpoint of one port. Like the endpoint's counters it outlives a snapshot: a
 * reload that keeps the endpoint keeps its state, its check progress and its ejection history.
 *
 * <p>The data plane reads {@link #inService()}: one volatile read while the endpoint is in
 * service. Transitions go through the {@link PortHealth} that holds the endpoint, under its
 * lock, since whether the port fails open depends on all of its endpoints at once; check
 * results come from one checker thread, connect results from any event loop, and only a
 * result that changes something takes the lock.
 */
public final class EndpointHealth {
    static final int CHECK_DOWN = 1;
    static final int EJECTED = 2;

    private final InetSocketAddress address;
    /** Tells the endpoint's least-load index that its rank moved. */
    private final Runnable rankChanged;
    /** {@link #CHECK_DOWN} and {@link #EJECTED} bits; 0 is in service. Written under the port's lock. */
    private volatile int out;
    /** The port in whose snapshot in force this endpoint is; null before one and after its removal. */
    private volatile @Nullable PortHealth port;
    /** Set once, when a port first takes the endpoint in (for {@code startDown}). */
    boolean attached;

    /** Active check progress: consecutive results of the side the endpoint is not on. Checker thread only. */
    private int checkStreak;
    private final LongAdder checksPassed = new LongAdder();
    private final LongAdder checksFailed = new LongAdder();

    private final AtomicInteger connectFailuresInRow = new AtomicInteger();
    /** When the ejection ends (System.nanoTime()); meaningful while {@link #EJECTED} is set. */
    volatile long ejectedUntilNanos;
    /** Ejections since the endpoint last served a whole maxEjectionTime; under the port's lock. */
    int ejectionsInRow;
    /** When the endpoint last came back from an ejection (System.nanoTime()); under the port's lock. */
    long returnedNanos;
    private final AtomicInteger ejections = new AtomicInteger();

    private volatile @Nullable String lastFailure;
    /** When, in epoch milliseconds (0: never): a long, so that a failed probe allocates no Instant. */
    private volatile long lastFailureMillis;
    private volatile Instant since = Instant.now();

    /**
     * @param address     the endpoint, for logs and views
     * @param rankChanged run when the endpoint leaves or re-enters service (least-load schedulers rank it last while out)
     */
    public EndpointHealth(InetSocketAddress address, Runnable rankChanged) {
        this.address = address;
        this.rankChanged = rankChanged;
    }

    /**
     * May new connections go to this endpoint: it is neither down nor ejected, or every endpoint of
     * its port is out and the port fails open.
     */
    public boolean inService() {
        if (out == 0) {
            return true;
        }
        PortHealth p = port;
        return p != null && p.failingOpen();
    }

    /** Neither down nor ejected (whatever the port does when all are out). */
    public boolean up() {
        return out == 0;
    }

    public HealthState state() {
        int o = out;
        return (o & CHECK_DOWN) != 0 ? HealthState.DOWN : (o & EJECTED) != 0 ? HealthState.EJECTED : HealthState.UP;
    }

    /** An active check passed. Called by the checker thread only. */
    public void checkPassed(int rise) {
        checksPassed.increment();
        PortHealth p = port;
        if (p == null || (out & CHECK_DOWN) == 0) {
            checkStreak = 0; // no port holds it (a streak counts only while one does), or nothing to rise from
            return;
        }
        if (++checkStreak >= rise) {
            checkStreak = 0;
            p.change(this, CHECK_DOWN, false, null);
        }
    }

    /** An active check failed for {@code reason}. Called by the checker thread only. */
    public void checkFailed(int fall, String reason) {
        checksFailed.increment();
        failure(reason);
        PortHealth p = port;
        if (p == null || (out & CHECK_DOWN) != 0) {
            checkStreak = 0;
            return;
        }
        if (++checkStreak >= fall) {
            checkStreak = 0;
            p.change(this, CHECK_DOWN, true, "check failed " + fall + " time(s) in a row: " + reason);
        }
    }

    /** A connect of real traffic reached the endpoint: its run of failures ends. */
    public void connectSucceeded() {
        // Read first: a write to a line every event loop shares would cost each connection.
        if (connectFailuresInRow.get() != 0) {
            connectFailuresInRow.set(0);
        }
    }

    /** A connect of real traffic failed (on UDP: ICMP port unreachable); may eject the endpoint. */
    public void connectFailed(String reason, long nowNanos) {
        failure(reason);
        int inRow = connectFailuresInRow.incrementAndGet();
        PortHealth p = port;
        if (p != null) {
            p.connectFailures(this, inRow, reason, nowNanos);
        }
    }

    private void failure(String reason) {
        lastFailure = reason;
        lastFailureMillis = System.currentTimeMillis();
    }

    public InetSocketAddress address() {
        return address;
    }

    public long checksPassed() {
        return checksPassed.sum();
    }

    public long checksFailed() {
        return checksFailed.sum();
    }

    /** Times outlier detection ejected this endpoint. */
    public int ejections() {
        return ejections.get();
    }

    /** When the ejection in force ends, or null when not ejected. */
    public @Nullable Instant ejectedUntil() {
        if ((out & EJECTED) == 0) {
            return null;
        }
        return Instant.now().plus(Duration.ofNanos(Math.max(0, ejectedUntilNanos - System.nanoTime())));
    }

    /** Why the last check or connect failed, or null when none has. */
    public @Nullable String lastFailure() {
        return lastFailure;
    }

    public @Nullable Instant lastFailureAt() {
        long millis = lastFailureMillis;
        return millis == 0 ? null : Instant.ofEpochMilli(millis);
    }

    /** When the endpoint last changed state (or was first seen). */
    public Instant since() {
        return since;
    }

    // ---- for PortHealth, under its lock ----

    int out() {
        return out;
    }

    void setOut(int bits) {
        out = bits;
        since = Instant.now();
    }

    void resetCheckStreak() {
        checkStreak = 0;
    }

    void resetConnectFailures() {
        connectFailuresInRow.set(0);
    }

    void countEjection() {
        ejections.incrementAndGet();
    }

    void joined(@Nullable PortHealth holder) {
        port = holder;
    }

    @Nullable PortHealth port() {
        return port;
    }

    void rankChanged() {
        rankChanged.run();
    }

    @Override
    public String toString() {
        return Addresses.format(address) + " " + state().label();
    }
}

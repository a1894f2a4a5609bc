package dev.l4lb.core.sched;

import java.net.InetSocketAddress;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.LongConsumer;

import org.jspecify.annotations.Nullable;

import dev.l4lb.core.health.EndpointHealth;

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
    private static final LongConsumer IGNORE = nanos -> { };

    private final AtomicInteger active = new AtomicInteger();
    /** Of {@link #active}, those whose connect has not completed yet. */
    private final AtomicInteger connecting = new AtomicInteger();
    private final LongAdder established = new LongAdder();
    private final LongAdder connectFailures = new LongAdder();
    private final LongAdder bytesIn = new LongAdder();
    private final LongAdder bytesOut = new LongAdder();
    private volatile @Nullable ConnectError lastError;
    /** Where connect times go (a metrics timer), set once per snapshot, never per connection. */
    private volatile LongConsumer connectTimes = IGNORE;
    /** The newest least-load index this endpoint belongs to, told of every change of {@link #active}. */
    private volatile LoadIndex.@Nullable Slot watcher;
    /** Whether it is in service by its checks and its traffic; kept across reloads like the counts. */
    private final EndpointHealth health;

    /** Counters, and health, for the endpoint at {@code address}. */
    public EndpointCounters(InetSocketAddress address) {
        this.health = new EndpointHealth(address, this::changed);
    }

    public EndpointHealth health() {
        return health;
    }

    /** Connections given to this endpoint and not closed yet (connecting or established). */
    public int active() {
        return active.get();
    }

    /** Of {@link #active}, the connections still connecting. */
    public int connecting() {
        return connecting.get();
    }

    /** Of {@link #active}, the connections established and open now (never below 0 while the two move). */
    public int open() {
        return Math.max(0, active.get() - connecting.get());
    }

    /** Connections ever established to this endpoint. */
    public long established() {
        return established.sum();
    }

    /** Connect attempts to this endpoint that failed (refused, timed out, unreachable). */
    public long connectFailures() {
        return connectFailures.sum();
    }

    /** Bytes relayed from clients to this endpoint. */
    public long bytesIn() {
        return bytesIn.sum();
    }

    /** Bytes relayed from this endpoint to clients. */
    public long bytesOut() {
        return bytesOut.sum();
    }

    /** The most recent failed connect, or null. */
    public @Nullable ConnectError lastError() {
        return lastError;
    }

    /** From now on report each established connection's connect time (ns) to {@code sink}. */
    public void observeConnectTimes(LongConsumer sink) {
        connectTimes = sink == null ? IGNORE : sink;
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
        connecting.incrementAndGet();
        changed();
        return true;
    }

    /** The connect of a connection {@link #tryAcquire} counted has completed, either way. */
    void connectDone() {
        connecting.decrementAndGet();
    }

    void release() {
        active.decrementAndGet();
        changed();
    }

    void recordEstablished(long connectNanos) {
        established.increment();
        connectTimes.accept(connectNanos);
    }

    void recordConnectFailure() {
        connectFailures.increment();
    }

    void recordConnectError(ConnectError error) {
        lastError = error;
    }

    /** Adds relayed bytes: {@code in} from clients, {@code out} to clients. */
    public void addBytes(long in, long out) {
        if (in != 0) {
            bytesIn.add(in);
        }
        if (out != 0) {
            bytesOut.add(out);
        }
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

package dev.l4lb.core.affinity;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.Executor;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.atomic.LongAdder;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.RemovalCause;
import com.github.benmanes.caffeine.cache.Ticker;

/**
 * One service port's ClientIP table: client address to the endpoint address it sticks to. It is
 * a bounded Caffeine cache whose entries expire {@code timeout} after the client's last new
 * connection; past {@code maxEntries} Caffeine evicts (by its W-TinyLFU policy) and each eviction
 * is counted. Endpoint addresses rather than endpoint objects are stored so that the table can
 * outlive a snapshot: a reload keeps every client's stickiness to the endpoints that remain.
 */
public final class AffinityTable {
    private final Duration timeout;
    private final long maxEntries;
    private final Cache<InetAddress, InetSocketAddress> entries;
    private final LongAdder evictions = new LongAdder();

    public AffinityTable(Duration timeout, long maxEntries) {
        this(timeout, maxEntries, Ticker.systemTicker(), ForkJoinPool.commonPool());
    }

    /** With a clock and a maintenance executor of the caller's, for tests that must not sleep. */
    AffinityTable(Duration timeout, long maxEntries, Ticker ticker, Executor maintenance) {
        this.timeout = timeout;
        this.maxEntries = maxEntries;
        this.entries = Caffeine.newBuilder()
                .expireAfterAccess(timeout)
                .maximumSize(maxEntries)
                .ticker(ticker)
                .executor(maintenance)
                .evictionListener((InetAddress client, InetSocketAddress endpoint, RemovalCause cause) -> {
                    if (cause == RemovalCause.SIZE) {
                        evictions.increment();
                    }
                })
                .build();
    }

    /** Can this table serve a port with these settings (so a reload keeps it)? */
    public boolean fits(Duration otherTimeout, long otherMaxEntries) {
        return timeout.equals(otherTimeout) && maxEntries == otherMaxEntries;
    }

    /** The endpoint {@code client} sticks to, refreshing its expiry; null when none. */
    InetSocketAddress get(InetAddress client) {
        return entries.getIfPresent(client);
    }

    void put(InetAddress client, InetSocketAddress endpoint) {
        entries.put(client, endpoint);
    }

    void remove(InetAddress client) {
        entries.invalidate(client);
    }

    /** Removes the entry only while it still names {@code endpoint}. */
    void remove(InetAddress client, InetSocketAddress endpoint) {
        entries.asMap().remove(client, endpoint);
    }

    /** Entries now (approximate while entries expire or are evicted). */
    public long size() {
        return entries.estimatedSize();
    }

    /** Entries removed because the table was full. */
    public long evictions() {
        return evictions.sum();
    }

    public long maxEntries() {
        return maxEntries;
    }

    /** Runs pending expiry and eviction now (tests; the cache does it on its own otherwise). */
    void cleanUp() {
        entries.cleanUp();
    }
}

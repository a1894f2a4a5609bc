package dev.l4lb.bench;

import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;

import org.jspecify.annotations.Nullable;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.RemovalCause;

import dev.l4lb.core.limits.ClientRefusal;
import dev.l4lb.core.limits.ClientTable;
import dev.l4lb.core.limits.StripedClientTable;
import dev.l4lb.core.model.ClientLimits;

/**
 * The client table on Caffeine: the competitor ClientLimitBenchmark measures beside the
 * product's {@link StripedClientTable} (issue #18 asked for both; see README, "Per-client limits",
 * for the figures). It lives with the benchmark, as Caffeine's own competitors live in its jmh
 * source set: the library has no benchmark-only code. A client with a connection open weighs 0,
 * which Caffeine never evicts; it is weighed again (a replace of the entry by itself) when its
 * first connection opens and its last one closes. Clients with connections open are counted
 * apart and refused past the bound, so the table holds at most twice its size.
 */
public final class CaffeineClientTable implements ClientTable {
    private final Cache<Key, Client> cache;
    private final ConcurrentMap<Key, Client> map;
    private final int bound;
    private final int maxPerClient;
    private final long interval;
    private final long tolerance;
    private final AtomicInteger inUse = new AtomicInteger();
    private final LongAdder evictions = new LongAdder();

    public CaffeineClientTable(ClientLimits limits) {
        bound = limits.clientTableSize();
        cache = Caffeine.newBuilder()
                .maximumWeight(bound)
                .<Key, Client>weigher((k, c) -> c.open > 0 ? 0 : 1)
                .executor(Runnable::run)
                .evictionListener((Key k, Client c, RemovalCause cause) -> evictions.increment())
                .build();
        map = cache.asMap();
        maxPerClient = limits.maxConnectionsPerClient();
        interval = limits.connectionRatePerClient() == null ? 0 : limits.connectionRatePerClient().intervalNanos();
        tolerance = limits.connectionRatePerClient() == null ? 0 : limits.connectionRatePerClient().toleranceNanos();
    }

    @Override
    public @Nullable ClientRefusal admit(long high, long low, long nowNanos) {
        Key k = new Key(high, low);
        Client client = map.get(k);
        if (client == null) {
            client = map.computeIfAbsent(k, x -> new Client(nowNanos));
        }
        boolean pinned;
        synchronized (client) {
            if (maxPerClient > 0 && client.open >= maxPerClient) {
                return ClientRefusal.CLIENT_CONNECTIONS;
            }
            if (client.open == 0 && inUse.get() >= bound) {
                return ClientRefusal.CLIENT_TABLE_FULL;
            }
            if (interval > 0) {
                long next = Math.max(client.full - nowNanos, 0) + interval;
                if (next > tolerance) {
                    return ClientRefusal.CLIENT_RATE;
                }
                client.full = nowNanos + next;
            }
            pinned = client.open++ == 0;
        }
        if (pinned) {
            inUse.incrementAndGet();
            // Re-weighed to 0. Evicted between get and here (as an idle entry): put it back, counted.
            if (map.replace(k, client, client) || map.putIfAbsent(k, client) == null) {
                return null;
            }
            // Another admission made a fresh entry for the key meanwhile: take its slot instead.
            synchronized (client) {
                client.open--;
            }
            inUse.decrementAndGet();
            return admit(high, low, nowNanos);
        }
        return null;
    }

    @Override
    public void release(long high, long low) {
        Key k = new Key(high, low);
        Client client = map.get(k);
        if (client == null) {
            return;
        }
        boolean unpinned;
        synchronized (client) {
            if (client.open == 0) {
                return;
            }
            unpinned = --client.open == 0;
        }
        if (unpinned) {
            inUse.decrementAndGet();
            map.replace(k, client, client); // weighs 1 again: evictable
        }
    }

    @Override
    public int size() {
        return (int) cache.estimatedSize();
    }

    @Override
    public long evictions() {
        return evictions.sum();
    }

    private record Key(long high, long low) {
    }

    private static final class Client {
        int open;
        long full;

        Client(long now) {
            full = now;
        }
    }
}

package dev.l4lb.core.limits;

import java.util.Arrays;
import java.util.concurrent.ThreadLocalRandom;

import org.jspecify.annotations.Nullable;

import dev.l4lb.core.model.ClientLimits;

/**
 * The client table as open addressing over primitive arrays, in stripes: a client's stripe is
 * chosen by its hash, and each stripe is its own small table with its own least-recently-seen
 * list, guarded by its own monitor for the few array writes of one admission. Nothing is
 * allocated per admission; a stripe's arrays grow by doubling up to its share of the bound.
 *
 * <p>Only clients without an open connection are on a stripe's recency list, so the one evicted
 * is always the least recently seen idle client and eviction never loses a count; when a stripe
 * holds nothing but clients with connections open, a new client is refused
 * ({@link ClientRefusal#CLIENT_TABLE_FULL}). Recency is kept per stripe: the client evicted is
 * the least recently seen of its stripe, which over 64 stripes of thousands is close to the
 * least recently seen of all.
 *
 * <p>Why a monitor per stripe and not lock-free: one admission changes a client's count, its
 * bucket and the recency list together, which no single compare-and-set covers. The section is a
 * few array reads and writes, never waits on anything else, and with up to 64 stripes two event
 * loops rarely meet on one; measured (ClientLimitBenchmark), a known client's admission and
 * release together take 38 ns among 1,000 clients, uncontended. Caffeine, the alternative
 * measured beside it, locks too (its map's bins and its eviction) and allocates per lookup.
 */
public final class StripedClientTable implements ClientTable {
    /** Enough stripes that event loops rarely meet on one, few enough that each holds many clients. */
    private static final int MAX_STRIPES = 64;
    /** Tables up to this size have one stripe: exact recency order. */
    private static final int MIN_PER_STRIPE = 1024;
    private static final int INITIAL = 64;

    private final Stripe[] stripes;
    /** Secret per table: see {@link ClientKey#hash}. */
    private final long seed = ThreadLocalRandom.current().nextLong();
    private final int maxPerClient;
    private final long interval;
    private final long tolerance;

    public StripedClientTable(ClientLimits limits) {
        int count = Math.min(MAX_STRIPES, Integer.highestOneBit(Math.max(1, limits.clientTableSize() / MIN_PER_STRIPE)));
        stripes = new Stripe[count];
        for (int i = 0; i < count; i++) {
            // The bound split exactly: the first stripes take the remainder.
            stripes[i] = new Stripe(limits.clientTableSize() / count + (i < limits.clientTableSize() % count ? 1 : 0), seed);
        }
        maxPerClient = limits.maxConnectionsPerClient();
        interval = limits.connectionRatePerClient() == null ? 0 : limits.connectionRatePerClient().intervalNanos();
        tolerance = limits.connectionRatePerClient() == null ? 0 : limits.connectionRatePerClient().toleranceNanos();
    }

    @Override
    public @Nullable ClientRefusal admit(long high, long low, long nowNanos) {
        int hash = ClientKey.hash(high, low, seed);
        Stripe stripe = stripes[(hash >>> 26) & (stripes.length - 1)];
        synchronized (stripe) {
            return stripe.admit(high, low, hash, nowNanos, maxPerClient, interval, tolerance);
        }
    }

    @Override
    public void release(long high, long low) {
        int hash = ClientKey.hash(high, low, seed);
        Stripe stripe = stripes[(hash >>> 26) & (stripes.length - 1)];
        synchronized (stripe) {
            stripe.release(high, low, hash);
        }
    }

    @Override
    public int size() {
        int size = 0;
        for (Stripe stripe : stripes) {
            synchronized (stripe) {
                size += stripe.size;
            }
        }
        return size;
    }

    @Override
    public long evictions() {
        long evictions = 0;
        for (Stripe stripe : stripes) {
            synchronized (stripe) {
                evictions += stripe.evictions;
            }
        }
        return evictions;
    }

    /**
     * One stripe: entries in one array of longs, four per entry (key high, key low, the rate
     * bucket's full time, open connections) so that one admission reads one or two cache lines of
     * it; an entry's number is its place there. An index of entry numbers (plus one; 0 is empty)
     * probed linearly and kept at most half full, and a doubly linked recency list of the entries
     * with no connection open, most recent at the head, its two links packed in one long per entry.
     */
    private static final class Stripe {
        private static final int NONE = -1;
        private static final int STRIDE = 4;
        private static final int HIGH = 0;
        private static final int LOW = 1;
        /** GCRA's theoretical arrival time: when the client's rate bucket is full again. */
        private static final int FULL = 2;
        private static final int OPEN = 3;
        private static final long OLDER_BITS = 0xFFFF_FFFFL;

        private final int capacity;
        private final long seed;
        private long[] entries = new long[0];
        /** Per entry: the newer neighbour in the high half, the older in the low half. */
        private long[] links = new long[0];
        private int[] index = new int[0];
        private int size;
        private int head = NONE;
        private int tail = NONE;
        private long evictions;

        Stripe(int capacity, long seed) {
            this.capacity = capacity;
            this.seed = seed;
            allocate(Math.min(capacity, INITIAL));
        }

        @Nullable ClientRefusal admit(long h, long l, int hash, long now, int maxPerClient, long interval, long tolerance) {
            int e = find(h, l, hash);
            if (e < 0) {
                e = add(h, l, hash, now);
                if (e < 0) {
                    return ClientRefusal.CLIENT_TABLE_FULL;
                }
            } else if (entries[e * STRIDE + OPEN] == 0 && head != e) {
                unlink(e);
                linkHead(e); // seen now
            }
            int at = e * STRIDE;
            long open = entries[at + OPEN];
            if (maxPerClient > 0 && open >= maxPerClient) {
                return ClientRefusal.CLIENT_CONNECTIONS;
            }
            if (interval > 0) {
                long next = Math.max(entries[at + FULL] - now, 0) + interval;
                if (next > tolerance) {
                    return ClientRefusal.CLIENT_RATE;
                }
                entries[at + FULL] = now + next;
            }
            entries[at + OPEN] = open + 1;
            if (open == 0) {
                unlink(e); // in use: off the list, so never evicted
            }
            return null;
        }

        void release(long h, long l, int hash) {
            int e = find(h, l, hash);
            // An entry with a connection open is never evicted, so it is there; the check keeps a
            // double release from corrupting the list.
            if (e >= 0 && entries[e * STRIDE + OPEN] > 0 && --entries[e * STRIDE + OPEN] == 0) {
                linkHead(e);
            }
        }

        /** The entry of this key, or -1. */
        private int find(long h, long l, int hash) {
            int mask = index.length - 1;
            for (int i = hash & mask; ; i = (i + 1) & mask) {
                int e = index[i] - 1;
                if (e < 0) {
                    return -1;
                }
                if (entries[e * STRIDE + HIGH] == h && entries[e * STRIDE + LOW] == l) {
                    return e;
                }
            }
        }

        /** A new idle entry for this key, made by growing, or by evicting the least recently seen; -1 when every entry is in use. */
        private int add(long h, long l, int hash, long now) {
            int e;
            if (size < entries.length / STRIDE) {
                e = size++;
            } else if (size < capacity) {
                allocate(Math.min(capacity, size * 2));
                e = size++;
            } else if (tail != NONE) {
                e = tail;
                unlink(e);
                unindex(e);
                evictions++;
            } else {
                return -1;
            }
            int at = e * STRIDE;
            entries[at + HIGH] = h;
            entries[at + LOW] = l;
            entries[at + FULL] = now;
            entries[at + OPEN] = 0;
            place(e, hash);
            linkHead(e);
            return e;
        }

        private void place(int e, int hash) {
            int mask = index.length - 1;
            int i = hash & mask;
            while (index[i] != 0) {
                i = (i + 1) & mask;
            }
            index[i] = e + 1;
        }

        private int home(int e) {
            return ClientKey.hash(entries[e * STRIDE + HIGH], entries[e * STRIDE + LOW], seed) & (index.length - 1);
        }

        /** Takes entry {@code e} out of the index, shifting back the entries after it that probed past it. */
        private void unindex(int e) {
            int mask = index.length - 1;
            int i = home(e);
            while (index[i] != e + 1) {
                i = (i + 1) & mask;
            }
            int j = i;
            while (true) {
                j = (j + 1) & mask;
                int other = index[j] - 1;
                if (other < 0) {
                    break;
                }
                int home = home(other);
                boolean staysPut = i <= j ? i < home && home <= j : i < home || home <= j;
                if (!staysPut) {
                    index[i] = index[j];
                    i = j;
                }
            }
            index[i] = 0;
        }

        private int newer(int e) {
            return (int) (links[e] >> 32);
        }

        private int older(int e) {
            return (int) links[e];
        }

        private void link(int e, int newer, int older) {
            links[e] = ((long) newer << 32) | (older & OLDER_BITS);
        }

        private void linkHead(int e) {
            link(e, NONE, head);
            if (head != NONE) {
                link(head, e, older(head));
            }
            head = e;
            if (tail == NONE) {
                tail = e;
            }
        }

        private void unlink(int e) {
            int n = newer(e);
            int o = older(e);
            if (n != NONE) {
                link(n, newer(n), o);
            } else {
                head = o;
            }
            if (o != NONE) {
                link(o, n, older(o));
            } else {
                tail = n;
            }
            link(e, NONE, NONE);
        }

        private void allocate(int count) {
            entries = Arrays.copyOf(entries, count * STRIDE);
            links = Arrays.copyOf(links, count);
            // At most half full, so that probes stay short.
            index = new int[Integer.highestOneBit(Math.max(2, count) * 2 - 1) << 1];
            for (int e = 0; e < size; e++) {
                place(e, home(e));
            }
        }
    }
}

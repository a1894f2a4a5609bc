package dev.l4lb.core.sched;

import java.net.InetAddress;
import java.util.Arrays;
import java.util.List;

import org.jspecify.annotations.Nullable;

import dev.l4lb.core.model.Addresses;
import dev.l4lb.core.model.HashKey;

/**
 * IPVS's {@code mh}: Maglev consistent hashing (Eisenbud et al., NSDI 2016). Each endpoint walks
 * its own permutation of a prime-sized table, taking free slots in turn (more turns per round for
 * a heavier weight), until the table is full; a client's address hashes to a slot. Every endpoint
 * gets a near-equal (weighted) share of slots (within about 1% of fair while weights are of
 * similar size; an endpoint of weight 1 next to ones of weight 1,000 gets a handful of slots), and when one endpoint goes away only its slots and
 * a few others change hands, so most clients keep their endpoint across endpoint-set changes.
 *
 * <p>Balancers given the same endpoints build the same table, whatever order they are listed in
 * and in whichever process, so a router spreading one VIP over several of them (ECMP) keeps a
 * client on one endpoint. Three things make it so: an endpoint's permutation derives from its
 * address alone: {@code offset} and {@code skip} are {@link StableHash#of(String, long)} (64-bit
 * FNV-1a, then MurmurHash3's finalizer) over the UTF-8 bytes of {@code ip:port} as
 * {@link Addresses#format} writes it ({@code 10.0.0.1:8080}, {@code [fd00::1]:8080}), under two
 * fixed seeds, never {@code Object.hashCode} or a list position; the endpoints take their turns
 * in address order ({@link #inTableOrder}), so ties for a slot go the same way everywhere; and a
 * client's slot is {@link StableHash#of(InetAddress)}, MurmurHash3's finalizer over the JDK's
 * {@code InetAddress.hashCode} (the IPv4 address as an int; for IPv6, a fold of its 16 bytes),
 * modulo the table size, which depends on the endpoint count only. With {@code hashKey:
 * clientIpPort} the client's hash is {@link StableHash#of(InetAddress, int)} instead: that int and
 * the 16-bit source port side by side in one long, through the same finalizer.
 */
public final class MaglevScheduler implements Scheduler {
    /** The paper's and IPVS's default table size. */
    static final int DEFAULT_TABLE_SIZE = 65537;
    /** Slots per endpoint at least, so shares stay within about 1% of fair. */
    static final int MIN_SLOTS_PER_ENDPOINT = 100;
    /** Primes, each about twice the one before (from 2^16+1). */
    private static final int[] SIZES = {65_537, 131_071, 262_139, 524_287, 1_048_573, 2_097_143, 4_194_301,
            8_388_593, 16_777_213};
    private static final long OFFSET_SEED = 0x6d61676c65764f66L;
    private static final long SKIP_SEED = 0x6d61676c6576536bL;

    private final Backend[] eligible;
    /** Hash the client's source port too ({@link HashKey#CLIENT_IP_PORT}). */
    private final boolean onPort;
    private final int[] table;

    /** Hashing the client address alone. */
    public MaglevScheduler(List<Backend> backends) {
        this(backends, HashKey.CLIENT_IP);
    }

    public MaglevScheduler(List<Backend> backends, HashKey hashKey) {
        this.onPort = hashKey == HashKey.CLIENT_IP_PORT;
        this.eligible = inTableOrder(Eligibility.eligible(backends));
        this.table = populate(eligible, tableSize(eligible.length));
    }

    @Override
    public @Nullable Backend pick(InetAddress client, List<Backend> excluded) {
        return Hashing.pick(eligible, table, StableHash.of(client), excluded);
    }

    @Override
    public @Nullable Backend pick(InetAddress client, int clientPort, List<Backend> excluded) {
        int hash = onPort ? StableHash.of(client, clientPort) : StableHash.of(client);
        return Hashing.pick(eligible, table, hash, excluded);
    }

    @Override
    public boolean hasEligible() {
        return eligible.length > 0;
    }

    /**
     * The endpoints sorted by address (IP bytes, IPv4 before IPv6, then port). Endpoints take
     * their turns in this order, and the first to reach a slot both want keeps it, so a table built
     * in list order would differ between balancers whose configs list the same endpoints in another
     * order; the fallback's "next endpoint" follows the same order.
     */
    static Backend[] inTableOrder(Backend[] backends) {
        Backend[] sorted = backends.clone();
        Arrays.sort(sorted, MaglevScheduler::compareAddresses);
        return sorted;
    }

    private static int compareAddresses(Backend a, Backend b) {
        byte[] x = a.address().getAddress().getAddress();
        byte[] y = b.address().getAddress().getAddress();
        int byLength = Integer.compare(x.length, y.length);
        if (byLength != 0) {
            return byLength;
        }
        int byIp = Arrays.compareUnsigned(x, y);
        return byIp != 0 ? byIp : Integer.compare(a.address().getPort(), b.address().getPort());
    }

    /**
     * The table's size: the smallest prime of a fixed ladder (65537, then about doubling) that
     * gives at least 100 slots per endpoint. A size that followed the endpoint count exactly
     * would change with every endpoint added or removed, and a new size moves nearly every client;
     * on the ladder it changes only when the count crosses a rung (at 655, 1,310, 2,621...).
     */
    static int tableSize(int endpoints) {
        long wanted = (long) endpoints * MIN_SLOTS_PER_ENDPOINT;
        for (int size : SIZES) {
            if (size >= wanted) {
                return size;
            }
        }
        return SIZES[SIZES.length - 1];
    }

    /** Slot to endpoint position, for every slot (no endpoints: an empty table). */
    static int[] populate(Backend[] backends, int size) {
        int n = backends.length;
        if (n == 0) {
            return new int[0];
        }
        long[] offset = new long[n];
        long[] skip = new long[n];
        int[] turns = new int[n];
        int gcd = Eligibility.weightGcd(backends);
        long totalTurns = 0;
        for (int i = 0; i < n; i++) {
            String key = Addresses.format(backends[i].address());
            offset[i] = Math.floorMod(StableHash.of(key, OFFSET_SEED), size);
            skip[i] = Math.floorMod(StableHash.of(key, SKIP_SEED), size - 1) + 1;
            turns[i] = backends[i].weight() / gcd;
            totalTurns += turns[i];
        }
        if (totalTurns == 0) {
            return new int[0]; // only drained endpoints: nothing could ever fill the table
        }
        int[] table = new int[size];
        Arrays.fill(table, -1);
        long[] next = new long[n];
        int filled = 0;
        while (filled < size) {
            for (int i = 0; i < n && filled < size; i++) {
                for (int turn = 0; turn < turns[i] && filled < size; turn++) {
                    int slot;
                    do {
                        slot = (int) ((offset[i] + next[i] * skip[i]) % size);
                        next[i]++;
                    } while (table[slot] >= 0);
                    table[slot] = i;
                    filled++;
                }
            }
        }
        return table;
    }
}

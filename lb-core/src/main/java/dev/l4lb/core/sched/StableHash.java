package dev.l4lb.core.sched;

import java.net.InetAddress;
import java.nio.charset.StandardCharsets;

/**
 * Hashes that are the same in every JVM and on every machine, so that several balancers built
 * from the same endpoint set send the same client to the same endpoint without sharing state.
 * Neither {@code String.hashCode} mixing nor identity hashes would do: the first is too weak for
 * Maglev's permutations, the second differs per process.
 */
public final class StableHash {
    private StableHash() {
    }

    /** A 64-bit hash of {@code text} under {@code seed} (FNV-1a over UTF-8, then a finalizer). */
    static long of(String text, long seed) {
        long h = 0xcbf29ce484222325L ^ seed;
        for (byte b : text.getBytes(StandardCharsets.UTF_8)) {
            h ^= b & 0xff;
            h *= 0x100000001b3L;
        }
        return mix(h);
    }

    /**
     * The client address's hash: {@code InetAddress.hashCode()} is the IPv4 address itself and a
     * fold of the 16 bytes for IPv6, both defined by the JDK and computed without allocating;
     * the finalizer spreads neighbouring addresses across the table.
     */
    static int of(InetAddress client) {
        return (int) mix(client.hashCode());
    }

    /**
     * The hash of a client address and source port: the address's int (as above) and the 16-bit
     * port side by side in one long, distinct for every IPv4 address and port, then the finalizer.
     */
    static int of(InetAddress client, int port) {
        return (int) mix((client.hashCode() & 0xffff_ffffL) << 16 | (port & 0xffff));
    }

    /** MurmurHash3's 64-bit finalizer (the client table's seeded hash uses it too). */
    public static long mix(long h) {
        h ^= h >>> 33;
        h *= 0xff51afd7ed558ccdL;
        h ^= h >>> 33;
        h *= 0xc4ceb9fe1a85ec53L;
        h ^= h >>> 33;
        return h;
    }
}

package dev.l4lb.core.limits;

import java.net.Inet4Address;
import java.net.InetAddress;

import dev.l4lb.core.sched.StableHash;

/**
 * How a client address becomes the two longs a table keys it by: an IPv4 address whole (as the
 * IPv4-mapped IPv6 address, which Java never hands out as an Inet6Address, so the two families
 * cannot collide), an IPv6 address masked to the port's prefix.
 *
 * <p>An IPv4 key costs no allocation ({@link #v4Low} reads the address from hashCode). An
 * Inet6Address hands its bytes out only as a fresh copy ({@code getAddress} clones a 16-byte
 * array, 32 B), and measured, C2's escape analysis does not remove that copy; so the caller takes
 * the key once per connection, from one copy, and releases by the key it kept.
 */
public final class ClientKey {
    private final long highMask;
    private final long lowMask;

    public ClientKey(int prefixV6) {
        highMask = prefixV6 >= 64 ? -1L : -1L << (64 - prefixV6);
        lowMask = prefixV6 <= 64 ? 0L : prefixV6 == 128 ? -1L : -1L << (128 - prefixV6);
    }

    public static boolean isV4(InetAddress client) {
        return client instanceof Inet4Address;
    }

    /** An IPv4 client's key, low half (its high half is 0): an Inet4Address's hashCode is its address. */
    public static long v4Low(InetAddress client) {
        return 0xFFFF_0000_0000L | (client.hashCode() & 0xFFFF_FFFFL);
    }

    /** An IPv6 client's key, high half, from its {@code getAddress()}. */
    public long high(byte[] v6) {
        return bytes(v6, 0) & highMask;
    }

    /** An IPv6 client's key, low half, from its {@code getAddress()}. */
    public long low(byte[] v6) {
        return bytes(v6, 8) & lowMask;
    }

    /**
     * The key's hash under a table's secret {@code seed}: clients pick their own addresses (an IPv6
     * client holds a whole /48 of /64 keys), and with a hash they could compute they could pick
     * keys that share one stripe, filling it while the table is nearly empty, or one probe run.
     * MurmurHash3's 64-bit finalizer over both halves and the seed: its multiplications make where
     * two keys land depend on the seed, which a client never sees.
     */
    static int hash(long high, long low, long seed) {
        long h = StableHash.mix(high * 0x9E37_79B9_7F4A_7C15L ^ low ^ seed);
        return (int) (h ^ (h >>> 32));
    }

    private static long bytes(byte[] b, int from) {
        long v = 0;
        for (int i = from; i < from + 8; i++) {
            v = (v << 8) | (b[i] & 0xFF);
        }
        return v;
    }
}

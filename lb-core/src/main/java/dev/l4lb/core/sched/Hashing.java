package dev.l4lb.core.sched;

import java.util.List;

import org.jspecify.annotations.Nullable;

/** The lookup shared by the hashing schedulers: a hash into a table of endpoint positions. */
final class Hashing {
    /** Slots to walk past an unusable endpoint before scanning the endpoints in order. */
    private static final int FALLBACK_PROBES = 16;

    private Hashing() {
    }

    /**
     * The endpoint in {@code table}'s slot for {@code hash}; when it cannot take the connection,
     * the next slots' endpoints (up to {@link #FALLBACK_PROBES} of them, so different clients of a
     * dead endpoint spread as its slots' neighbours differ), then the endpoints in order.
     */
    static @Nullable Backend pick(Backend[] eligible, int[] table, int hash, List<Backend> excluded) {
        int length = table.length;
        if (length == 0) {
            return null;
        }
        int slot = Math.floorMod(hash, length);
        Backend chosen = eligible[table[slot]];
        if (Eligibility.usable(chosen, excluded)) {
            return chosen;
        }
        for (int probe = 1; probe <= FALLBACK_PROBES; probe++) {
            Backend next = eligible[table[(slot + probe) % length]];
            if (Eligibility.usable(next, excluded)) {
                return next;
            }
        }
        return Eligibility.firstUsable(eligible, table[slot] + 1, excluded);
    }
}

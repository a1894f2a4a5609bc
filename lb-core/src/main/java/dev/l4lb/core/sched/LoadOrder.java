package dev.l4lb.core.sched;

/**
 * How the least-load schedulers rank endpoints by their active connections and weights, as IPVS
 * defines {@code lc}, {@code wlc}, {@code sed} and {@code nq} (IPVS adds TIME_WAIT connections
 * at 1/256 weight to its lc/wlc overhead; a proxy has no such state, so only active ones count).
 * Ties go to the endpoint listed first, as in IPVS.
 */
enum LoadOrder {
    /** Fewest active connections. */
    LC,
    /** Fewest active connections per unit of weight: active / weight. */
    WLC,
    /** Shortest expected delay: (active + 1) / weight. */
    SED,
    /** Never queue: an idle endpoint first; when none is idle, shortest expected delay. */
    NQ;

    /** Active counts beyond this rank as this (no endpoint holds 67 million connections). */
    private static final int MAX_ACTIVE = (1 << 26) - 2;
    /** Weighted ranks are active/weight in units of 1/65536 (exact for weights up to 256). */
    private static final int SCALE_BITS = 16;
    /** Above every rank of an endpoint in service: one out of service is the last choice. */
    static final long OUT_OF_SERVICE = (1L << 43) - 1;

    /** Negative when A should get the next connection before B, 0 when they rank equal. */
    int compare(Backend a, Backend b) {
        return Long.compare(rank(a), rank(b));
    }

    /**
     * This order as one number, lower first, below 2^43: what {@link LoadIndex} keeps in its nodes
     * so that a match is a comparison of two longs. Weighted ratios closer than 1/65536 (possible
     * only with weights above 256) tie.
     */
    long rank(Backend backend) {
        if (!backend.inService()) {
            return OUT_OF_SERVICE;
        }
        long active = Math.min(backend.active(), MAX_ACTIVE);
        long weight = Math.max(1, backend.weight());
        return switch (this) {
            case LC -> active;
            case WLC -> (active << SCALE_BITS) / weight;
            case SED -> ((active + 1) << SCALE_BITS) / weight;
            case NQ -> active == 0 ? 0 : 1 + ((active + 1) << SCALE_BITS) / weight;
        };
    }
}

package dev.l4lb.core.sched;

/**
 * How the least-load schedulers rank endpoints by their active connections and weights, as IPVS
 * defines {@code lc}, {@code wlc}, {@code sed} and {@code nq} (IPVS adds TIME_WAIT connections
 * at 1/256 weight to its lc/wlc overhead; a proxy has no such state, so only active ones count).
 * Ties go to the endpoint listed first, as in IPVS.
 */
enum LoadOrder {
    /** Fewest active connections. */
    LC {
        @Override
        int compare(int activeA, int weightA, int activeB, int weightB) {
            return Integer.compare(activeA, activeB);
        }
    },
    /** Fewest active connections per unit of weight: active / weight. */
    WLC {
        @Override
        int compare(int activeA, int weightA, int activeB, int weightB) {
            return Long.compare((long) activeA * weightB, (long) activeB * weightA);
        }
    },
    /** Shortest expected delay: (active + 1) / weight. */
    SED {
        @Override
        int compare(int activeA, int weightA, int activeB, int weightB) {
            return Long.compare((activeA + 1L) * weightB, (activeB + 1L) * weightA);
        }
    },
    /** Never queue: an idle endpoint first; when none is idle, shortest expected delay. */
    NQ {
        @Override
        int compare(int activeA, int weightA, int activeB, int weightB) {
            boolean idleA = activeA == 0;
            boolean idleB = activeB == 0;
            if (idleA || idleB) {
                return idleA == idleB ? 0 : idleA ? -1 : 1;
            }
            return SED.compare(activeA, weightA, activeB, weightB);
        }
    };

    /** Negative when A should get the next connection before B, 0 when they rank equal. */
    abstract int compare(int activeA, int weightA, int activeB, int weightB);

    int compare(Backend a, Backend b) {
        return compare(a.active(), a.weight(), b.active(), b.weight());
    }
}

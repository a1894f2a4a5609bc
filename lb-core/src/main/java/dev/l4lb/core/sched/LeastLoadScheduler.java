package dev.l4lb.core.sched;

import java.net.InetAddress;
import java.util.List;

import org.jspecify.annotations.Nullable;

/**
 * IPVS's {@code lc}, {@code wlc}, {@code sed} and {@code nq}: the endpoint that ranks first by
 * active connections (and weight), read from a {@link LoadIndex} in constant time. When that
 * endpoint cannot take the connection (full, or it failed this connection already) the best of the
 * others is found by a scan, which only retries and saturated ports pay.
 *
 * <p>The static factories return a scheduler already following the counts; one built for a
 * snapshot starts following them when the snapshot is applied ({@link #activate}).
 */
public final class LeastLoadScheduler implements Scheduler {
    private final Backend[] eligible;
    private final LoadOrder order;
    private final LoadIndex index;

    LeastLoadScheduler(List<Backend> backends, LoadOrder order) {
        this.eligible = Eligibility.eligible(backends);
        this.order = order;
        this.index = new LoadIndex(eligible, order);
    }

    public static LeastLoadScheduler leastConnection(List<Backend> backends) {
        return active(new LeastLoadScheduler(backends, LoadOrder.LC));
    }

    public static LeastLoadScheduler weightedLeastConnection(List<Backend> backends) {
        return active(new LeastLoadScheduler(backends, LoadOrder.WLC));
    }

    public static LeastLoadScheduler shortestExpectedDelay(List<Backend> backends) {
        return active(new LeastLoadScheduler(backends, LoadOrder.SED));
    }

    public static LeastLoadScheduler neverQueue(List<Backend> backends) {
        return active(new LeastLoadScheduler(backends, LoadOrder.NQ));
    }

    private static LeastLoadScheduler active(LeastLoadScheduler scheduler) {
        scheduler.activate();
        return scheduler;
    }

    /** From now on the index follows the endpoints' counts (see {@link LoadIndex#attach}). */
    @Override
    public void activate() {
        index.attach();
    }

    @Override
    public @Nullable Backend pick(InetAddress client, List<Backend> excluded) {
        int best = index.best();
        if (best < 0) {
            return null;
        }
        Backend chosen = eligible[best];
        return Eligibility.usable(chosen, excluded) ? chosen : bestUsable(excluded);
    }

    private Backend bestUsable(List<Backend> excluded) {
        Backend best = null;
        for (Backend candidate : eligible) {
            if (Eligibility.usable(candidate, excluded) && (best == null || order.compare(candidate, best) < 0)) {
                best = candidate;
            }
        }
        return best;
    }

    @Override
    public boolean hasEligible() {
        return eligible.length > 0;
    }
}

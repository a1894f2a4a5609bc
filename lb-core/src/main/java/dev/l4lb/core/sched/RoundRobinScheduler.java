package dev.l4lb.core.sched;

import java.net.InetAddress;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

import org.jspecify.annotations.Nullable;

/**
 * IPVS's {@code rr} and kube-proxy's userspace default: each new connection goes to the next
 * eligible endpoint in turn, whatever the client and whatever the weights (weight 0 still drains).
 * One atomic increment per pick.
 *
 * <p>A retry after a failed connect takes the next endpoint without moving the rotation on:
 * counted as a turn of its own, it would hand the endpoint after the failed one's to the next
 * client too, so with [dead, live] every client would try the dead one first (issue #21).
 */
public final class RoundRobinScheduler implements Scheduler {
    private final Backend[] eligible;
    private final AtomicLong next = new AtomicLong();

    public RoundRobinScheduler(List<Backend> backends) {
        this.eligible = Eligibility.eligible(backends);
    }

    @Override
    public @Nullable Backend pick(InetAddress client, List<Backend> excluded) {
        Backend[] candidates = eligible;
        int n = candidates.length;
        if (n == 0) {
            return null;
        }
        int start = (int) ((turn(excluded) & Long.MAX_VALUE) % n);
        Backend first = candidates[start];
        return Eligibility.usable(first, excluded) ? first : Eligibility.firstUsable(candidates, start + 1, excluded);
    }

    /** The rotation's position for this pick: taken (and advanced) by a first try, only read by a retry. */
    private long turn(List<Backend> excluded) {
        return excluded.isEmpty() ? next.getAndIncrement() : next.get();
    }

    @Override
    public boolean hasEligible() {
        return eligible.length > 0;
    }
}

package dev.l4lb.core.sched;

import java.net.InetAddress;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * IPVS's {@code rr} and kube-proxy's userspace default: each new connection goes to the next
 * eligible endpoint in turn, whatever the client and whatever the weights (weight 0 still drains).
 * One atomic increment per pick.
 */
public final class RoundRobinScheduler implements Scheduler {
    private final Backend[] eligible;
    private final AtomicLong next = new AtomicLong();

    public RoundRobinScheduler(List<Backend> backends) {
        this.eligible = Eligibility.eligible(backends);
    }

    @Override
    public Backend pick(InetAddress client, List<Backend> excluded) {
        Backend[] candidates = eligible;
        int n = candidates.length;
        if (n == 0) {
            return null;
        }
        int start = (int) ((next.getAndIncrement() & Long.MAX_VALUE) % n);
        Backend first = candidates[start];
        return Eligibility.usable(first, excluded) ? first : Eligibility.firstUsable(candidates, start + 1, excluded);
    }

    @Override
    public boolean hasEligible() {
        return eligible.length > 0;
    }
}

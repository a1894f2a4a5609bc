package dev.l4lb.core.sched;

import java.net.InetAddress;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * IPVS's {@code rr} and kube-proxy's userspace default: each new connection goes to the next
 * eligible endpoint in turn, whatever the client. One atomic increment per pick.
 */
public final class RoundRobinScheduler implements Scheduler {
    private final Backend[] eligible;
    private final AtomicLong next = new AtomicLong();

    public RoundRobinScheduler(List<Backend> backends) {
        this.eligible = Eligibility.eligible(backends);
    }

    @Override
    public Backend pick(InetAddress client) {
        Backend[] candidates = eligible;
        int n = candidates.length;
        if (n == 0) {
            return null;
        }
        long turn = next.getAndIncrement() & Long.MAX_VALUE;
        return candidates[(int) (turn % n)];
    }
}

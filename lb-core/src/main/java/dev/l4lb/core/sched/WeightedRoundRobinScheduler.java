package dev.l4lb.core.sched;

import java.net.InetAddress;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

import org.jspecify.annotations.Nullable;

/**
 * IPVS's {@code wrr}, smooth: endpoints take turns in proportion to their weights, interleaved
 * (5,1,1 gives a a b a c a a), from a cycle computed once per snapshot ({@link WeightedSequence}).
 * One atomic increment and one array read per pick.
 */
public final class WeightedRoundRobinScheduler implements Scheduler {
    private final Backend[] eligible;
    private final int[] cycle;
    private final AtomicLong next = new AtomicLong();

    public WeightedRoundRobinScheduler(List<Backend> backends) {
        this.eligible = Eligibility.eligible(backends);
        this.cycle = WeightedSequence.cycle(eligible);
    }

    @Override
    public @Nullable Backend pick(InetAddress client, List<Backend> excluded) {
        int length = cycle.length;
        if (length == 0) {
            return null;
        }
        // A retry reads the cycle's position without taking a turn (RoundRobinScheduler says why).
        long turn = excluded.isEmpty() ? next.getAndIncrement() : next.get();
        int position = cycle[(int) ((turn & Long.MAX_VALUE) % length)];
        Backend chosen = eligible[position];
        return Eligibility.usable(chosen, excluded) ? chosen : Eligibility.firstUsable(eligible, position + 1, excluded);
    }

    @Override
    public boolean hasEligible() {
        return eligible.length > 0;
    }
}

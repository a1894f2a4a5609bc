package dev.l4lb.core.sched;

import java.net.InetAddress;
import java.util.List;

import org.jspecify.annotations.Nullable;

/**
 * IPVS's {@code sh}: the client address hashed into a table where each endpoint holds slots in
 * proportion to its weight, so a client keeps its endpoint while the endpoint set is unchanged
 * (use {@code mh} when endpoints come and go and clients should mostly stay). An endpoint that is
 * full or failed this connection passes the client on to the next slots ({@code sh-fallback}).
 */
public final class SourceHashingScheduler implements Scheduler {
    private final Backend[] eligible;
    private final int[] slots;

    public SourceHashingScheduler(List<Backend> backends) {
        this.eligible = Eligibility.eligible(backends);
        this.slots = WeightedSequence.cycle(eligible);
    }

    @Override
    public @Nullable Backend pick(InetAddress client, List<Backend> excluded) {
        return Hashing.pick(eligible, slots, StableHash.of(client), excluded);
    }

    @Override
    public boolean hasEligible() {
        return eligible.length > 0;
    }
}

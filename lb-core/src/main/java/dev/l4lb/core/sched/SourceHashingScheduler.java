package dev.l4lb.core.sched;

import java.net.InetAddress;
import java.util.List;

import org.jspecify.annotations.Nullable;

import dev.l4lb.core.model.HashKey;

/**
 * IPVS's {@code sh}: the client address hashed into a table where each endpoint holds slots in
 * proportion to its weight, so a client keeps its endpoint while the endpoint set is unchanged
 * (use {@code mh} when endpoints come and go and clients should mostly stay). An endpoint that is
 * full or failed this connection passes the client on to the next slots ({@code sh-fallback}).
 */
public final class SourceHashingScheduler implements Scheduler {
    private final Backend[] eligible;
    /** Hash the client's source port too ({@link HashKey#CLIENT_IP_PORT}). */
    private final boolean onPort;
    private final int[] slots;

    /** Hashing the client address alone. */
    public SourceHashingScheduler(List<Backend> backends) {
        this(backends, HashKey.CLIENT_IP);
    }

    public SourceHashingScheduler(List<Backend> backends, HashKey hashKey) {
        this.onPort = hashKey == HashKey.CLIENT_IP_PORT;
        this.eligible = Eligibility.eligible(backends);
        this.slots = WeightedSequence.cycle(eligible);
    }

    @Override
    public @Nullable Backend pick(InetAddress client, List<Backend> excluded) {
        return Hashing.pick(eligible, slots, StableHash.of(client), excluded);
    }

    @Override
    public @Nullable Backend pick(InetAddress client, int clientPort, List<Backend> excluded) {
        int hash = onPort ? StableHash.of(client, clientPort) : StableHash.of(client);
        return Hashing.pick(eligible, slots, hash, excluded);
    }

    @Override
    public boolean hasEligible() {
        return eligible.length > 0;
    }
}

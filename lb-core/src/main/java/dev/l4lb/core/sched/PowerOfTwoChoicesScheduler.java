package dev.l4lb.core.sched;

import java.net.InetAddress;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;

import org.jspecify.annotations.Nullable;

/**
 * {@code p2c}: two endpoints drawn at random, the one with fewer active connections per unit of
 * weight wins (Envoy's least-request default). Nearly as even as least-connection, with no shared
 * index to keep, and it spreads a burst instead of sending all of it to the one least-loaded
 * endpoint.
 */
public final class PowerOfTwoChoicesScheduler implements Scheduler {
    private final Backend[] eligible;

    public PowerOfTwoChoicesScheduler(List<Backend> backends) {
        this.eligible = Eligibility.eligible(backends);
    }

    @Override
    public @Nullable Backend pick(InetAddress client, List<Backend> excluded) {
        int n = eligible.length;
        if (n == 0) {
            return null;
        }
        ThreadLocalRandom random = ThreadLocalRandom.current();
        int first = random.nextInt(n);
        Backend a = eligible[first];
        Backend chosen = a;
        if (n > 1) {
            // A second draw from the other n-1 endpoints, so the two always differ.
            int second = random.nextInt(n - 1);
            Backend b = eligible[second >= first ? second + 1 : second];
            chosen = LoadOrder.WLC.compare(b, a) < 0 ? b : a;
            Backend other = chosen == a ? b : a;
            if (!Eligibility.usable(chosen, excluded) && Eligibility.usable(other, excluded)) {
                return other;
            }
        }
        return Eligibility.usable(chosen, excluded) ? chosen : Eligibility.firstUsable(eligible, first + 1, excluded);
    }

    @Override
    public boolean hasEligible() {
        return eligible.length > 0;
    }
}

package dev.l4lb.core.sched;

import java.net.InetAddress;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;

import org.jspecify.annotations.Nullable;

/**
 * {@code random}: each connection to an endpoint drawn at random in proportion to its weight
 * (a binary search over the running weight totals; no shared state is written).
 */
public final class RandomScheduler implements Scheduler {
    private final Backend[] eligible;
    /** cumulative[i]: the weights of endpoints 0..i added up. */
    private final long[] cumulative;

    public RandomScheduler(List<Backend> backends) {
        this.eligible = Eligibility.eligible(backends);
        this.cumulative = new long[eligible.length];
        long total = 0;
        for (int i = 0; i < eligible.length; i++) {
            total += eligible[i].weight();
            cumulative[i] = total;
        }
    }

    @Override
    public @Nullable Backend pick(InetAddress client, List<Backend> excluded) {
        int n = eligible.length;
        if (n == 0) {
            return null;
        }
        long draw = ThreadLocalRandom.current().nextLong(cumulative[n - 1]);
        int found = Arrays.binarySearch(cumulative, draw + 1);
        int position = found >= 0 ? found : -found - 1;
        Backend chosen = eligible[position];
        return Eligibility.usable(chosen, excluded) ? chosen : Eligibility.firstUsable(eligible, position + 1, excluded);
    }

    @Override
    public boolean hasEligible() {
        return eligible.length > 0;
    }
}

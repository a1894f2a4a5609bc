package dev.l4lb.core.sched;

import static dev.l4lb.core.sched.Backends.CLIENT;
import static dev.l4lb.core.sched.Backends.chiSquare;
import static dev.l4lb.core.sched.Backends.weighted;
import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;
import java.util.List;

import org.junit.jupiter.api.Test;

/**
 * {@code random} draws with ThreadLocalRandom, so its spread is checked statistically: Pearson's
 * chi-square over many picks against the weights' shares, with a bound a correct scheduler
 * exceeds with probability below 1e-10 (no false failures in practice), while a share off by one
 * percentage point gives a statistic of several hundred.
 */
class RandomSchedulerTest {
    private static final int PICKS = 600_000;
    /** P(chi-square with 2 degrees of freedom > 50) = e^-25, about 1.4e-11. */
    private static final double BOUND_2_DF = 50;

    @Test
    void picksInProportionToTheWeights() {
        Backend a = weighted(1, 1);
        Backend b = weighted(2, 2);
        Backend c = weighted(3, 3);
        List<Backend> backends = List.of(a, b, c);
        Scheduler random = new RandomScheduler(backends);

        long[] counts = count(random, backends);

        assertThat(chiSquare(counts, new double[] {1 / 6.0, 2 / 6.0, 3 / 6.0}))
                .as("chi-square of %s against 1:2:3", Arrays.toString(counts))
                .isLessThan(BOUND_2_DF);
    }

    @Test
    void equalWeightsSpreadEvenly() {
        List<Backend> backends = List.of(weighted(1, 4), weighted(2, 4), weighted(3, 4));
        Scheduler random = new RandomScheduler(backends);

        long[] counts = count(random, backends);

        assertThat(chiSquare(counts, new double[] {1 / 3.0, 1 / 3.0, 1 / 3.0}))
                .as("chi-square of %s against 1:1:1", Arrays.toString(counts))
                .isLessThan(BOUND_2_DF);
    }

    @Test
    void aDrainedEndpointInTheMiddleTakesNoShare() {
        // The running totals skip the drained endpoint: its neighbours keep exactly their weights.
        Backend a = weighted(1, 1);
        Backend drained = weighted(2, 0);
        Backend c = weighted(3, 1);
        Backend d = weighted(4, 2);
        Scheduler random = new RandomScheduler(List.of(a, drained, c, d));

        long[] counts = count(random, List.of(a, c, d, drained));

        assertThat(counts[3]).isZero();
        assertThat(chiSquare(new long[] {counts[0], counts[1], counts[2]}, new double[] {0.25, 0.25, 0.5}))
                .as("chi-square of %s against 1:1:2", Arrays.toString(counts))
                .isLessThan(BOUND_2_DF);
    }

    private static long[] count(Scheduler scheduler, List<Backend> backends) {
        long[] counts = new long[backends.size()];
        for (int i = 0; i < PICKS; i++) {
            counts[backends.indexOf(scheduler.pick(CLIENT))]++;
        }
        return counts;
    }
}

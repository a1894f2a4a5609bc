package dev.l4lb.core.sched;

import static dev.l4lb.core.sched.Backends.CLIENT;
import static dev.l4lb.core.sched.Backends.acquire;
import static dev.l4lb.core.sched.Backends.chiSquare;
import static dev.l4lb.core.sched.Backends.ready;
import static dev.l4lb.core.sched.Backends.weighted;
import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;
import java.util.List;

import org.junit.jupiter.api.Test;

/**
 * {@code p2c} draws two distinct endpoints with ThreadLocalRandom and keeps the one with fewer
 * active connections per unit of weight (a tie keeps the first draw). Its spread is checked with
 * Pearson's chi-square against the shares that rule implies; the bounds are exceeded by a correct
 * scheduler with probability below 1e-10, while a biased tie rule or draws with replacement give
 * statistics in the thousands. Counts are not changed while picking, so the shares are fixed.
 */
class PowerOfTwoChoicesSchedulerTest {
    private static final int PICKS = 400_000;
    /** P(chi-square, 3 degrees of freedom > 50) is about 8e-11; 2 degrees of freedom: 1.4e-11. */
    private static final double BOUND = 50;

    @Test
    void equalLoadsSpreadEvenly() {
        // All idle: every pair ties, the first draw wins, and the first draw is uniform. A tie
        // rule favouring the endpoint listed first would give 3:2:1:0 instead.
        List<Backend> backends = List.of(ready(1), ready(2), ready(3), ready(4));
        Scheduler p2c = new PowerOfTwoChoicesScheduler(backends);

        long[] counts = count(p2c, backends);

        assertThat(chiSquare(counts, new double[] {0.25, 0.25, 0.25, 0.25}))
                .as("chi-square of %s against 1:1:1:1", Arrays.toString(counts))
                .isLessThan(BOUND);
    }

    @Test
    void aHeavilyLoadedEndpointIsNeverPicked() {
        // It loses every pair it is drawn into, and the two draws are distinct, so it never wins
        // (drawing with replacement would pick it for 1 in 16 connections). The others share evenly.
        Backend loaded = acquire(ready(1), 50);
        List<Backend> backends = List.of(loaded, ready(2), ready(3), ready(4));
        Scheduler p2c = new PowerOfTwoChoicesScheduler(backends);

        long[] counts = count(p2c, backends);

        assertThat(counts[0]).as("picks of the loaded endpoint in %s", Arrays.toString(counts)).isZero();
        assertThat(chiSquare(counts, new double[] {0, 1 / 3.0, 1 / 3.0, 1 / 3.0}))
                .as("chi-square of %s against 0:1:1:1", Arrays.toString(counts))
                .isLessThan(BOUND);
    }

    @Test
    void rankedLoadsGiveThePairwiseShares() {
        // Loads 0 < 1 < 2: the least loaded wins both pairs it is in (2/3), the middle one the
        // pair with the most loaded (1/3), the most loaded never.
        Backend idle = ready(1);
        Backend one = acquire(ready(2), 1);
        Backend two = acquire(ready(3), 2);
        List<Backend> backends = List.of(two, idle, one);
        Scheduler p2c = new PowerOfTwoChoicesScheduler(backends);

        long[] counts = count(p2c, backends);

        assertThat(counts[0]).isZero();
        assertThat(chiSquare(counts, new double[] {0, 2 / 3.0, 1 / 3.0}))
                .as("chi-square of %s against 0:2:1", Arrays.toString(counts))
                .isLessThan(BOUND);
    }

    @Test
    void withTwoEndpointsTheLowerLoadPerWeightAlwaysWins() {
        // Both are drawn every time, so p2c is wlc here: 3/4 beats 1/1.
        Backend a = acquire(weighted(1, 1), 1);
        Backend b = acquire(weighted(2, 4), 3);
        Scheduler p2c = new PowerOfTwoChoicesScheduler(List.of(a, b));

        for (int i = 0; i < 1_000; i++) {
            assertThat(p2c.pick(CLIENT)).isSameAs(b);
        }
        b.tryAcquire();
        b.tryAcquire(); // 5/4 against 1/1
        for (int i = 0; i < 1_000; i++) {
            assertThat(p2c.pick(CLIENT)).isSameAs(a);
        }
    }

    @Test
    void theLessLoadedOfTheTwoIsUsedWhenTheBetterOneIsExcluded() {
        Backend a = ready(1);
        Backend b = acquire(ready(2), 1);
        Scheduler p2c = new PowerOfTwoChoicesScheduler(List.of(a, b));

        for (int i = 0; i < 1_000; i++) {
            assertThat(p2c.pick(CLIENT, List.of(a))).isSameAs(b);
        }
    }

    private static long[] count(Scheduler scheduler, List<Backend> backends) {
        long[] counts = new long[backends.size()];
        for (int i = 0; i < PICKS; i++) {
            counts[backends.indexOf(scheduler.pick(CLIENT))]++;
        }
        return counts;
    }
}

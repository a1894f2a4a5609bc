package dev.l4lb.core.sched;

import static dev.l4lb.core.sched.Backends.CLIENT;
import static dev.l4lb.core.sched.Backends.limited;
import static dev.l4lb.core.sched.Backends.picks;
import static dev.l4lb.core.sched.Backends.weighted;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.offset;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;

import org.junit.jupiter.api.Test;

class WeightedRoundRobinSchedulerTest {

    @Test
    void weightsFiveOneOneInterleaveAsNginxDoes() {
        Backend a = weighted(1, 5);
        Backend b = weighted(2, 1);
        Backend c = weighted(3, 1);
        Scheduler wrr = new WeightedRoundRobinScheduler(List.of(a, b, c));

        List<Backend> cycle = List.of(a, a, b, a, c, a, a);
        assertThat(picks(wrr, 21)).containsExactlyElementsOf(repeat(cycle, 3));
    }

    @Test
    void weightsThreeTwoOneInterleaveAsNginxDoes() {
        // nginx's smooth WRR by hand (total 6; each step adds the weights, the first highest wins and
        // loses 6; ties go to the endpoint listed first):
        //   step  current before (a,b,c)  chosen  current after
        //   1     3, 2, 1                  a       -3, 2, 1
        //   2     0, 4, 2                  b        0,-2, 2
        //   3     3, 0, 3                  a       -3, 0, 3
        //   4     0, 2, 4                  c        0, 2,-2
        //   5     3, 4,-1                  b        3,-2,-1
        //   6     6, 0, 0                  a        0, 0, 0   (back to the start: the cycle repeats)
        Backend a = weighted(1, 3);
        Backend b = weighted(2, 2);
        Backend c = weighted(3, 1);
        Scheduler wrr = new WeightedRoundRobinScheduler(List.of(a, b, c));

        List<Backend> cycle = List.of(a, b, a, c, b, a);
        assertThat(picks(wrr, 18)).containsExactlyElementsOf(repeat(cycle, 3));
    }

    @Test
    void equalWeightsAreRoundRobin() {
        Backend a = weighted(1, 4);
        Backend b = weighted(2, 4);
        Backend c = weighted(3, 4);
        Scheduler wrr = new WeightedRoundRobinScheduler(List.of(a, b, c));

        assertThat(picks(wrr, 6)).containsExactly(a, b, c, a, b, c);
    }

    @Test
    void weightsWithACommonDivisorRunAsTheReducedOnes() {
        // Smooth WRR gives 50,10,10 the same order as 5,1,1 anyway; dividing by the common divisor
        // keeps the cycle (memory per service port) at 7 positions instead of 70.
        Backend a = weighted(1, 50);
        Backend b = weighted(2, 10);
        Backend c = weighted(3, 10);
        Scheduler wrr = new WeightedRoundRobinScheduler(List.of(a, b, c));

        assertThat(picks(wrr, 14)).containsExactlyElementsOf(repeat(List.of(a, a, b, a, c, a, a), 2));
        assertThat(WeightedSequence.cycle(new Backend[] {a, b, c})).containsExactly(0, 0, 1, 0, 2, 0, 0);
    }

    @Test
    void drainedEndpointsTakeNoTurn() {
        Backend a = weighted(1, 2);
        Backend drained = weighted(2, 0);
        Backend c = weighted(3, 1);
        Scheduler wrr = new WeightedRoundRobinScheduler(List.of(a, drained, c));

        assertThat(picks(wrr, 6)).containsExactly(a, c, a, a, c, a);
    }

    @Test
    void aFullEndpointsTurnGoesToTheNextEndpoint() {
        Backend a = weighted(1, 5);
        Backend b = Backends.acquire(limited(2, 1), 1);
        Backend c = weighted(3, 1);
        Scheduler wrr = new WeightedRoundRobinScheduler(List.of(a, b, c));

        // a a b a c a a with b full: b's turn goes to the endpoint after it, c.
        assertThat(picks(wrr, 7)).containsExactly(a, a, c, a, c, a, a);
        assertThat(wrr.pick(CLIENT, List.of(a))).as("a's turn with a excluded").isSameAs(c);
    }

    @Test
    void veryLargeWeightsKeepTheirProportionsInABoundedCycle() {
        // 999,999 : 3,000,000 only reduces to 333,333 : 1,000,000, far more positions than a cycle
        // may have, so it is scaled down; a quarter of the turns must still be a's.
        Backend a = weighted(1, 999_999);
        Backend b = weighted(2, 3_000_000);
        int[] cycle = WeightedSequence.cycle(new Backend[] {a, b});

        assertThat(cycle.length).isLessThanOrEqualTo(WeightedSequence.MAX_LENGTH);
        long as = Arrays.stream(cycle).filter(p -> p == 0).count();
        assertThat((double) as / cycle.length).isCloseTo(0.25, offset(0.001));
    }

    private static List<Backend> repeat(List<Backend> cycle, int times) {
        List<Backend> all = new ArrayList<>();
        for (List<Backend> copy : Collections.nCopies(times, cycle)) {
            all.addAll(copy);
        }
        return all;
    }
}

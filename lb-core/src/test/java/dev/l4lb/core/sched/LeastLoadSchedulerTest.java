package dev.l4lb.core.sched;

import static dev.l4lb.core.sched.Backends.CLIENT;
import static dev.l4lb.core.sched.Backends.acquire;
import static dev.l4lb.core.sched.Backends.backend;
import static dev.l4lb.core.sched.Backends.down;
import static dev.l4lb.core.sched.Backends.underHealth;
import static dev.l4lb.core.sched.Backends.up;
import static dev.l4lb.core.sched.Backends.limited;
import static dev.l4lb.core.sched.Backends.picksAcquiring;
import static dev.l4lb.core.sched.Backends.ready;
import static dev.l4lb.core.sched.Backends.weighted;
import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import dev.l4lb.core.model.SchedulerType;

/**
 * {@code lc}, {@code wlc}, {@code sed} and {@code nq}: exact pick sequences worked out by hand from
 * IPVS's definitions (ties to the endpoint listed first), and the tournament tree checked against a
 * plain scan after every count change.
 */
class LeastLoadSchedulerTest {

    // ---- lc ----

    @Test
    void lcPicksTheEndpointWithFewestActiveConnections() {
        Backend a = acquire(ready(1), 3);
        Backend b = acquire(ready(2), 1);
        Backend c = acquire(ready(3), 2);
        Scheduler lc = LeastLoadScheduler.leastConnection(List.of(a, b, c));

        assertThat(lc.pick(CLIENT)).isSameAs(b);

        acquire(b, 2); // 3, 3, 2
        assertThat(lc.pick(CLIENT)).isSameAs(c);

        a.release();
        a.release();
        a.release(); // 0, 3, 2
        assertThat(lc.pick(CLIENT)).isSameAs(a);
    }

    @Test
    void lcTiesGoToTheEndpointListedFirst() {
        Backend a = ready(1);
        Backend b = ready(2);
        Backend c = ready(3);
        Backend d = ready(4);
        Scheduler lc = LeastLoadScheduler.leastConnection(List.of(a, b, c, d));

        assertThat(lc.pick(CLIENT)).as("all idle").isSameAs(a);

        acquire(a, 5);
        acquire(d, 5); // 5, 0, 0, 5: b and c tie, in different halves of the tournament tree
        assertThat(lc.pick(CLIENT)).isSameAs(b);

        acquire(b, 5); // 5, 5, 0, 5
        assertThat(lc.pick(CLIENT)).isSameAs(c);

        acquire(c, 5); // all 5
        assertThat(lc.pick(CLIENT)).isSameAs(a);
    }

    @Test
    void lcPickingAndAcquiringFromIdleGoesRoundTheEndpointsInOrder() {
        Backend a = ready(1);
        Backend b = ready(2);
        Backend c = ready(3);
        Scheduler lc = LeastLoadScheduler.leastConnection(List.of(a, b, c));

        assertThat(picksAcquiring(lc, 7)).containsExactly(a, b, c, a, b, c, a);
    }

    @Test
    void acquiringAndReleasingChangeTheNextPick() {
        Backend a = acquire(ready(1), 1);
        Backend b = acquire(ready(2), 2);
        Backend c = acquire(ready(3), 3);
        Scheduler lc = LeastLoadScheduler.leastConnection(List.of(a, b, c));

        assertThat(lc.pick(CLIENT)).isSameAs(a);
        a.tryAcquire(); // 2, 2, 3
        assertThat(lc.pick(CLIENT)).as("tie with b, a is listed first").isSameAs(a);
        a.tryAcquire(); // 3, 2, 3
        assertThat(lc.pick(CLIENT)).isSameAs(b);
        c.release();
        c.release();
        c.release(); // 3, 2, 0
        assertThat(lc.pick(CLIENT)).isSameAs(c);
        c.tryAcquire();
        c.tryAcquire();
        c.tryAcquire(); // 3, 2, 3
        assertThat(lc.pick(CLIENT)).isSameAs(b);
        b.release(); // 3, 1, 3
        a.release();
        a.release();
        a.release(); // 0, 1, 3
        assertThat(lc.pick(CLIENT)).isSameAs(a);
    }

    // ---- wlc ----

    @Test
    void wlcPicksFewestActivePerUnitOfWeight() {
        Backend a = acquire(weighted(1, 1), 1);
        Backend b = acquire(weighted(2, 3), 2);
        Scheduler wlc = LeastLoadScheduler.weightedLeastConnection(List.of(a, b));

        assertThat(wlc.pick(CLIENT)).as("1/1 against 2/3").isSameAs(b);
        b.tryAcquire();
        assertThat(wlc.pick(CLIENT)).as("1/1 against 3/3: a tie goes to a").isSameAs(a);
        b.tryAcquire();
        assertThat(wlc.pick(CLIENT)).as("1/1 against 4/3").isSameAs(a);
    }

    @Test
    void wlcFromIdleWithWeightsOneTwoThree() {
        // By hand, active/weight for a, b, c (weights 1, 2, 3), first lowest wins:
        //   0,0,0 -> a   1,0,0 -> b   1,.5,0 -> c   1,.5,.33 -> c   1,.5,.67 -> b   1,1,.67 -> c
        //   1,1,1 -> a
        Backend a = weighted(1, 1);
        Backend b = weighted(2, 2);
        Backend c = weighted(3, 3);
        Scheduler wlc = LeastLoadScheduler.weightedLeastConnection(List.of(a, b, c));

        assertThat(picksAcquiring(wlc, 7)).containsExactly(a, b, c, c, b, c, a);
    }

    // ---- sed ----

    @Test
    void sedFromIdleWithWeightsOneTwoThree() {
        // By hand, (active+1)/weight: an idle heavy endpoint beats an idle light one, unlike wlc.
        //   1,.5,.33 -> c   1,.5,.67 -> b   1,1,.67 -> c   1,1,1 -> a   2,1,1 -> b   2,1.5,1 -> c
        Backend a = weighted(1, 1);
        Backend b = weighted(2, 2);
        Backend c = weighted(3, 3);
        Scheduler sed = LeastLoadScheduler.shortestExpectedDelay(List.of(a, b, c));

        assertThat(picksAcquiring(sed, 6)).containsExactly(c, b, c, a, b, c);
    }

    @Test
    void sedWithGivenCounts() {
        Backend a = acquire(weighted(1, 1), 1); // (1+1)/1 = 2
        Backend b = acquire(weighted(2, 4), 6); // (6+1)/4 = 1.75
        Scheduler sed = LeastLoadScheduler.shortestExpectedDelay(List.of(a, b));

        assertThat(sed.pick(CLIENT)).isSameAs(b);
        b.tryAcquire(); // 8/4 = 2: a tie with a, which is listed first
        assertThat(sed.pick(CLIENT)).isSameAs(a);
    }

    // ---- nq ----

    @Test
    void nqFromIdleTakesEveryIdleEndpointFirstThenSed() {
        // Idle endpoints first, in list order: a, b, c; then (active+1)/weight with all at 1:
        //   2,1,.67 -> c   2,1,1 -> b   2,1.5,1 -> c
        Backend a = weighted(1, 1);
        Backend b = weighted(2, 2);
        Backend c = weighted(3, 3);
        Scheduler nq = LeastLoadScheduler.neverQueue(List.of(a, b, c));

        assertThat(picksAcquiring(nq, 6)).containsExactly(a, b, c, c, b, c);
    }

    @Test
    void nqPrefersAnIdleEndpointToTheShortestExpectedDelay() {
        Backend a = acquire(weighted(1, 5), 2); // sed: 3/5
        Backend b = weighted(2, 1);             // sed: 1/1, but idle
        Backend c = acquire(weighted(3, 1), 5); // sed: 6/1
        Scheduler nq = LeastLoadScheduler.neverQueue(List.of(a, b, c));
        Backend sedA = acquire(weighted(11, 5), 2);
        Scheduler sed = LeastLoadScheduler.shortestExpectedDelay(List.of(
                sedA, weighted(12, 1), acquire(weighted(13, 1), 5)));

        assertThat(sed.pick(CLIENT)).as("sed on the same loads").isSameAs(sedA);
        assertThat(nq.pick(CLIENT)).isSameAs(b);

        b.tryAcquire(); // nobody idle: sed order, 3/5 < 2/1 < 6/1
        assertThat(nq.pick(CLIENT)).isSameAs(a);
        b.release();
        a.release();
        a.release(); // a and b idle: the first listed
        assertThat(nq.pick(CLIENT)).isSameAs(a);
        a.tryAcquire(); // only b idle, although a's 2/5 is the shorter expected delay
        assertThat(nq.pick(CLIENT)).isSameAs(b);
    }

    // ---- limits and exclusions ----

    @Test
    void aFullLeastLoadedEndpointGivesWayToTheNextBest() {
        Backend full = acquire(limited(1, 1), 1);
        Backend b = acquire(ready(2), 3);
        Backend c = acquire(ready(3), 2);
        Backend d = acquire(ready(4), 2);
        Scheduler lc = LeastLoadScheduler.leastConnection(List.of(full, b, c, d));

        assertThat(lc.pick(CLIENT)).as("c and d tie behind the full endpoint").isSameAs(c);
        full.release();
        assertThat(lc.pick(CLIENT)).isSameAs(full);
    }

    @Test
    void anExcludedLeastLoadedEndpointGivesWayToTheNextBest() {
        Backend a = ready(1);
        Backend b = acquire(ready(2), 2);
        Backend c = acquire(ready(3), 1);
        Scheduler lc = LeastLoadScheduler.leastConnection(List.of(a, b, c));

        assertThat(lc.pick(CLIENT, List.of(a))).isSameAs(c);
        assertThat(lc.pick(CLIENT, List.of(a, c))).isSameAs(b);
        assertThat(lc.pick(CLIENT, List.of(a, b, c))).isNull();
    }

    /**
     * A down endpoint keeps its count of 0 (nothing is sent to it), so by connections alone it
     * would stay the index's winner and every pick would fall back to the scan; ranked last, the
     * index's root is an endpoint in service, and it is told at once when the endpoint leaves,
     * comes back, or the port fails open. (The index is checked on its own: a scheduler over the
     * same counters would take their reports away from it.)
     */
    @ParameterizedTest
    @EnumSource(value = LoadOrder.class)
    void anIdleEndpointOutOfServiceRanksLastInTheIndex(LoadOrder order) {
        Backend idle = ready(1);
        Backend b = acquire(ready(2), 3);
        Backend c = acquire(ready(3), 2);
        Backend[] backends = {idle, b, c};
        LoadIndex index = new LoadIndex(backends, order);
        index.attach();
        underHealth(true, backends);
        assertThat(index.best()).isZero();

        down(idle);
        assertThat(order.rank(idle)).isEqualTo(LoadOrder.OUT_OF_SERVICE);
        assertThat(backends[index.best()]).isSameAs(c);

        down(b);
        down(c);
        assertThat(backends[index.best()]).as("failing open: ranked by connections again").isSameAs(idle);

        up(c);
        assertThat(backends[index.best()]).as("the one back in service").isSameAs(c);
        up(idle);
        assertThat(backends[index.best()]).isSameAs(idle);
    }

    @Test
    void aSchedulerForANewSnapshotStartsFromTheCarriedOverCounts() {
        // A reload hands the same counters to a new scheduler: it must rank by them at once, and
        // keep following them although an earlier scheduler watched the same counters.
        Backend a = ready(1);
        Backend b = ready(2);
        Backend c = ready(3);
        Schedulers.create(SchedulerType.LC, List.of(a, b, c));
        acquire(a, 2);
        acquire(b, 1);
        acquire(c, 3);

        Scheduler next = Schedulers.create(SchedulerType.LC, List.of(a, c));
        assertThat(next.pick(CLIENT)).isSameAs(a);
        acquire(a, 2); // 4 against 3
        assertThat(next.pick(CLIENT)).isSameAs(c);
    }

    @Test
    void aPreparedSchedulerLeavesTheOneInServiceFollowingTheCountsUntilItIsActivated() {
        // A snapshot that is built but never applied must not take the counters away from the
        // scheduler in service; once applied, the new one must rank by every change, including
        // the ones made while it waited.
        Backend a = ready(1);
        Backend b = ready(2);
        Scheduler inService = Schedulers.create(SchedulerType.LC, List.of(a, b));
        Scheduler prepared = Schedulers.prepare(SchedulerType.LC, List.of(a, b));

        acquire(a, 1); // 1, 0
        assertThat(inService.pick(CLIENT)).as("the scheduler in service saw a's connection").isSameAs(b);

        prepared.activate();
        assertThat(prepared.pick(CLIENT)).as("a count that moved before activation").isSameAs(b);
        acquire(b, 2); // 1, 2
        assertThat(prepared.pick(CLIENT)).isSameAs(a);
    }

    // ---- the index against a plain scan ----

    /**
     * The tournament tree must give exactly what a scan in list order gives after every single
     * change, with one thread: random weights, limits, endpoint counts that are not powers of two,
     * and a random mix of acquires (mostly of the picked endpoint, as the data plane does) and
     * releases. Seeded, so a failure replays.
     */
    @ParameterizedTest
    @EnumSource(LoadOrder.class)
    void indexAgreesWithAScanAfterEveryChange(LoadOrder order) {
        for (int n : new int[] {1, 2, 3, 5, 8, 13, 33}) {
            Random random = new Random(n * 31L + order.ordinal());
            List<Backend> backends = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                int limit = random.nextInt(4) == 0 ? 1 + random.nextInt(4) : 0;
                backends.add(backend(i + 1, 1 + random.nextInt(5), true, true, false, limit));
            }
            Scheduler scheduler = Schedulers.create(SchedulerType.valueOf(order.name()), backends);
            List<Backend> held = new ArrayList<>();

            for (int step = 0; step < 20_000; step++) {
                Backend expected = scanForBest(backends, order);
                Backend picked = scheduler.pick(CLIENT);
                assertThat(picked).as("%s over %d endpoints, step %d, active %s", order, n, step, actives(backends))
                        .isSameAs(expected);

                int action = random.nextInt(10);
                if (action < 5 && picked != null) {
                    assertThat(picked.tryAcquire()).isTrue();
                    held.add(picked);
                } else if (action < 6) {
                    Backend any = backends.get(random.nextInt(n));
                    if (any.tryAcquire()) {
                        held.add(any);
                    }
                } else if (!held.isEmpty()) {
                    held.remove(random.nextInt(held.size())).release();
                }
            }
        }
    }

    /**
     * The expected winner, computed apart from {@link LoadOrder}: the first endpoint with room whose
     * load is lowest, loads compared as exact fractions (IPVS's definitions).
     */
    private static Backend scanForBest(List<Backend> backends, LoadOrder order) {
        Backend best = null;
        for (Backend candidate : backends) {
            if (candidate.hasRoom() && (best == null || lower(candidate, best, order))) {
                best = candidate;
            }
        }
        return best;
    }

    /** Strictly lower load: a tie keeps the one found first. */
    private static boolean lower(Backend x, Backend y, LoadOrder order) {
        long ax = x.active();
        long ay = y.active();
        long wx = x.weight();
        long wy = y.weight();
        return switch (order) {
            case LC -> ax < ay;
            case WLC -> ax * wy < ay * wx;
            case SED -> (ax + 1) * wy < (ay + 1) * wx;
            case NQ -> ax == 0 ? ay != 0 : ay != 0 && (ax + 1) * wy < (ay + 1) * wx;
        };
    }

    private static List<Integer> actives(List<Backend> backends) {
        return backends.stream().map(Backend::active).toList();
    }
}

package dev.l4lb.core.sched;

import static dev.l4lb.core.sched.Backends.CLIENT;
import static dev.l4lb.core.sched.Backends.backend;
import static dev.l4lb.core.sched.Backends.limited;
import static dev.l4lb.core.sched.Backends.picks;
import static dev.l4lb.core.sched.Backends.ready;
import static dev.l4lb.core.sched.Backends.weighted;
import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.LongAdder;

import org.junit.jupiter.api.Test;

class RoundRobinSchedulerTest {

    @Test
    void takesReadyEndpointsInTurn() {
        Backend a = ready(1);
        Backend b = ready(2);
        Backend c = ready(3);
        Scheduler rr = new RoundRobinScheduler(List.of(a, b, c));

        assertThat(picks(rr, 7)).containsExactly(a, b, c, a, b, c, a);
    }

    @Test
    void ignoresWeightsAboveZero() {
        // rr is IPVS's unweighted scheduler: weights only matter as 0 (drained) or not.
        Backend a = weighted(1, 5);
        Backend b = weighted(2, 1);
        Scheduler rr = new RoundRobinScheduler(List.of(a, b));

        assertThat(picks(rr, 4)).containsExactly(a, b, a, b);
    }

    @Test
    void skipsNotReadyAndDrainedEndpoints() {
        Backend a = ready(1);
        Backend notReady = backend(2, 1, false, false, false, 0);
        Backend drained = backend(3, 0, true, true, false, 0);
        Backend d = ready(4);
        Scheduler rr = new RoundRobinScheduler(List.of(a, notReady, drained, d));

        assertThat(picks(rr, 4)).containsExactly(a, d, a, d);
    }

    @Test
    void fallsBackToServingTerminatingEndpointsWhenNoneIsReady() {
        // Kubernetes' terminating-endpoint fallback: better a pod that is still serving than a blackhole.
        Backend gone = backend(1, 1, false, false, true, 0);
        Backend servingTerminating = backend(2, 1, false, true, true, 0);
        Backend drainedTerminating = backend(3, 0, false, true, true, 0);
        Backend servingNotTerminating = backend(4, 1, false, true, false, 0);
        Scheduler rr = new RoundRobinScheduler(List.of(gone, servingTerminating, drainedTerminating, servingNotTerminating));

        assertThat(picks(rr, 3)).containsOnly(servingTerminating);
        assertThat(rr.hasEligible()).isTrue();
    }

    @Test
    void readyEndpointsWinOverServingTerminatingOnes() {
        Backend terminating = backend(1, 1, false, true, true, 0);
        Backend a = ready(2);
        Scheduler rr = new RoundRobinScheduler(List.of(terminating, a));

        assertThat(picks(rr, 3)).containsOnly(a);
    }

    @Test
    void noEligibleEndpointGivesNull() {
        Scheduler empty = new RoundRobinScheduler(List.of());
        Scheduler noneEligible = new RoundRobinScheduler(
                List.of(backend(1, 1, false, false, false, 0), backend(2, 0, true, true, false, 0)));

        assertThat(empty.pick(CLIENT)).isNull();
        assertThat(empty.hasEligible()).isFalse();
        assertThat(noneEligible.pick(CLIENT)).isNull();
        assertThat(noneEligible.hasEligible()).isFalse();
    }

    @Test
    void aFullEndpointPassesItsTurnToTheNextOne() {
        Backend a = ready(1);
        Backend full = Backends.acquire(limited(2, 1), 1);
        Backend c = ready(3);
        Scheduler rr = new RoundRobinScheduler(List.of(a, full, c));

        // The turn that was full's goes to c, and c's own turn follows: the rotation itself does not skip.
        assertThat(picks(rr, 6)).containsExactly(a, c, c, a, c, c);

        full.release();
        assertThat(picks(rr, 3)).containsExactly(a, full, c);
    }

    @Test
    void excludedEndpointsAreSkippedWithoutTakingATurn() {
        Backend a = ready(1);
        Backend b = ready(2);
        Backend c = ready(3);
        Scheduler rr = new RoundRobinScheduler(List.of(a, b, c));

        assertThat(rr.pick(CLIENT, List.of(a))).isSameAs(b);
        assertThat(rr.pick(CLIENT, List.of(a))).as("a retry leaves the rotation where it was").isSameAs(b);
        assertThat(rr.pick(CLIENT)).isSameAs(a);
        assertThat(rr.pick(CLIENT, List.of(b))).isSameAs(c);
        assertThat(rr.pick(CLIENT)).isSameAs(b);
        assertThat(rr.pick(CLIENT, List.of(a, b, c))).isNull();
    }

    @Test
    void backendCountsConnectionsWithinItsLimit() {
        Backend a = limited(1, 2);
        Scheduler rr = new RoundRobinScheduler(List.of(a));

        assertThat(a.tryAcquire()).isTrue();
        assertThat(a.tryAcquire()).isTrue();
        assertThat(a.tryAcquire()).as("third connection over maxConnections 2").isFalse();
        assertThat(a.active()).isEqualTo(2);
        assertThat(a.hasRoom()).isFalse();
        assertThat(rr.pick(CLIENT)).isNull();
        assertThat(rr.hasEligible()).isTrue();

        a.release();
        assertThat(a.active()).isEqualTo(1);
        assertThat(a.hasRoom()).isTrue();
        assertThat(rr.pick(CLIENT)).isSameAs(a);
    }

    @Test
    void establishedAndFailedConnectsAreCountedApartFromActiveOnes() {
        Backend a = ready(1);
        Scheduler rr = new RoundRobinScheduler(List.of(a));
        a.tryAcquire();
        a.recordEstablished(0);
        a.tryAcquire();
        rr.connectFailed(a, CLIENT);
        a.release(); // the failed connect gives its count back

        assertThat(a.counters().active()).isEqualTo(1);
        assertThat(a.counters().established()).isEqualTo(1);
        assertThat(a.counters().connectFailures()).isEqualTo(1);
    }

    @Test
    void concurrentPicksShareOneSequence() throws Exception {
        // Every pick takes a distinct turn of the one atomic counter, so the split is exact, not just fair.
        int threads = 4;
        int perThread = 30_000;
        List<Backend> backends = List.of(ready(1), ready(2), ready(3));
        Scheduler rr = new RoundRobinScheduler(backends);
        Map<Backend, LongAdder> counts = new ConcurrentHashMap<>();
        backends.forEach(b -> counts.put(b, new LongAdder()));

        CountDownLatch start = new CountDownLatch(1);
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            List<Future<?>> done = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                done.add(pool.submit(() -> {
                    start.await();
                    for (int i = 0; i < perThread; i++) {
                        counts.get(rr.pick(CLIENT)).increment();
                    }
                    return null;
                }));
            }
            start.countDown();
            for (Future<?> f : done) {
                f.get();
            }
        } finally {
            pool.shutdownNow();
        }

        int each = threads * perThread / backends.size();
        assertThat(counts.values()).extracting(LongAdder::sum).containsOnly((long) each);
    }
}

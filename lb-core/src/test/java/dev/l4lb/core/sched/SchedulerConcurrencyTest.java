package dev.l4lb.core.sched;

import static dev.l4lb.core.sched.Backends.client;
import static dev.l4lb.core.sched.Backends.limited;
import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import dev.l4lb.core.model.SchedulerType;

/**
 * Several event loops pick and claim endpoints of one port at once. The choice may be approximate
 * under contention (LoadIndex says so), but the counts may not: every claim is counted once,
 * every release once, never below zero and never above an endpoint's limit.
 */
class SchedulerConcurrencyTest {
    private static final int THREADS = 4;
    private static final int ITERATIONS = 1_000_000;
    /** Connections a thread holds at most before it closes its oldest one. */
    private static final int HOLD = 8;
    private static final int ENDPOINTS = 5;

    /**
     * Each thread: pick, claim with tryAcquire, and close its oldest connection when it holds
     * {@link #HOLD}, when the pick or claim fails (so that full endpoints free up), or at random
     * otherwise, which interleaves releases with other threads' claims. With a limit of 3 the five
     * endpoints take 15 connections and the threads want up to 32, so the ports saturate and
     * claims race for last slots. Afterwards each endpoint's count must equal the connections the
     * threads still hold on it, and 0 once those are released.
     */
    @ParameterizedTest(name = "{0}, maxConnections {1}")
    @CsvSource({"LC, 0", "LC, 3", "RR, 0", "RR, 3"})
    void countsStayExactUnderConcurrentPicksClaimsAndReleases(SchedulerType type, int limit) throws Exception {
        List<Backend> backends = new ArrayList<>();
        for (int i = 0; i < ENDPOINTS; i++) {
            backends.add(limited(i + 1, limit));
        }
        Scheduler scheduler = Schedulers.create(type, backends);

        List<Worker> workers = new ArrayList<>();
        for (int t = 0; t < THREADS; t++) {
            workers.add(new Worker(scheduler, backends, limit, t));
        }
        runAll(workers);

        Map<Backend, Integer> held = new HashMap<>();
        long acquires = 0;
        long releases = 0;
        long failures = 0;
        for (Worker worker : workers) {
            assertThat(worker.badObservations).as("counts seen below 0 or above the limit: %s", worker.firstBad).isZero();
            worker.held.forEach(b -> held.merge(b, 1, Integer::sum));
            acquires += worker.acquires;
            releases += worker.releases;
            failures += worker.nullPicks + worker.lostClaims;
        }
        for (Backend backend : backends) {
            assertThat(backend.active()).as("active of %s while the threads hold their last connections", backend)
                    .isEqualTo(held.getOrDefault(backend, 0));
        }
        assertThat(acquires - releases).isEqualTo(held.values().stream().mapToInt(Integer::intValue).sum());
        if (limit > 0) {
            // Certain, not a matter of timing: an iteration that claims closes at most one, so a
            // thread's holding only shrinks on a refusal; each soon holds 7 or 8 and keeps them
            // until the end, and four threads want about 30 of the 15 slots.
            assertThat(failures).as("picks or claims refused at saturation").isPositive();
        }

        for (Worker worker : workers) {
            while (!worker.held.isEmpty()) {
                worker.held.removeFirst().release();
                releases++;
            }
        }
        assertThat(releases).as("releases").isEqualTo(acquires);
        assertThat(backends).extracting(Backend::active).as("active after closing everything").containsOnly(0);

        // One thread again: the choice must be the exact one (all idle: the first listed for lc).
        // LoadIndex only promises exactness with one writer; a replay that read counts before a
        // concurrent one and wrote after it could in principle leave a node stale until the next
        // change under it. Not seen in thousands of runs, but that is what a failure here means.
        Backend next = scheduler.pick(client(0));
        if (type == SchedulerType.LC) {
            assertThat(next).as("lc with every endpoint idle, after the concurrent phase (stale LoadIndex node?)")
                    .isSameAs(backends.get(0));
        } else {
            assertThat(next).isNotNull();
        }
    }

    private static void runAll(List<Worker> workers) throws Exception {
        CountDownLatch start = new CountDownLatch(1);
        ExecutorService pool = Executors.newFixedThreadPool(workers.size());
        try {
            List<Future<?>> done = new ArrayList<>();
            for (Worker worker : workers) {
                done.add(pool.submit(() -> {
                    start.await();
                    worker.run();
                    return null;
                }));
            }
            start.countDown();
            for (Future<?> future : done) {
                future.get();
            }
        } finally {
            pool.shutdownNow();
        }
    }

    /** One event loop's connections: claimed in order, closed oldest first. */
    private static final class Worker implements Runnable {
        private final Scheduler scheduler;
        private final List<Backend> backends;
        private final int limit;
        private final int id;
        final ArrayDeque<Backend> held = new ArrayDeque<>();
        long acquires;
        long releases;
        long nullPicks;
        long lostClaims;
        long badObservations;
        String firstBad;

        Worker(Scheduler scheduler, List<Backend> backends, int limit, int id) {
            this.scheduler = scheduler;
            this.backends = backends;
            this.limit = limit;
            this.id = id;
        }

        @Override
        public void run() {
            ThreadLocalRandom random = ThreadLocalRandom.current();
            for (int i = 0; i < ITERATIONS; i++) {
                Backend chosen = scheduler.pick(client(id));
                boolean claimed = false;
                if (chosen == null) {
                    nullPicks++;
                } else if (chosen.tryAcquire()) {
                    claimed = true;
                    acquires++;
                    held.addLast(chosen);
                    observe(chosen, 1);
                } else {
                    lostClaims++;
                }
                if (!held.isEmpty() && (held.size() >= HOLD || !claimed || random.nextBoolean())) {
                    Backend closing = held.removeFirst();
                    closing.release();
                    releases++;
                    observe(closing, 0);
                }
                if ((i & 1023) == 0) {
                    for (Backend backend : backends) {
                        observe(backend, 0);
                    }
                }
            }
        }

        /** A count read now must be at least {@code least} (this thread holds that many) and within the limit. */
        private void observe(Backend backend, int least) {
            int active = backend.active();
            if (active < least || (limit > 0 && active > limit)) {
                if (badObservations++ == 0) {
                    firstBad = backend + " at " + active;
                }
            }
        }
    }
}

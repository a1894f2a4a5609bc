package dev.l4lb.core.sched;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.net.InetSocketAddress;
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

import dev.l4lb.core.model.Endpoint;

class RoundRobinSchedulerTest {
    private static final InetAddress CLIENT = InetAddress.getLoopbackAddress();

    @Test
    void takesReadyEndpointsInTurn() {
        Backend a = ready(1);
        Backend b = ready(2);
        Backend c = ready(3);
        Scheduler rr = new RoundRobinScheduler(List.of(a, b, c));

        assertThat(picks(rr, 7)).containsExactly(a, b, c, a, b, c, a);
    }

    @Test
    void skipsNotReadyAndDrainedEndpoints() {
        Backend a = ready(1);
        Backend notReady = backend(2, 1, false, false, false);
        Backend drained = backend(3, 0, true, true, false);
        Backend d = ready(4);
        Scheduler rr = new RoundRobinScheduler(List.of(a, notReady, drained, d));

        assertThat(picks(rr, 4)).containsExactly(a, d, a, d);
    }

    @Test
    void fallsBackToServingTerminatingEndpointsWhenNoneIsReady() {
        // Kubernetes' terminating-endpoint fallback: better a pod that is still serving than a blackhole.
        Backend gone = backend(1, 1, false, false, true);
        Backend servingTerminating = backend(2, 1, false, true, true);
        Backend drainedTerminating = backend(3, 0, false, true, true);
        Backend servingNotTerminating = backend(4, 1, false, true, false);
        Scheduler rr = new RoundRobinScheduler(List.of(gone, servingTerminating, drainedTerminating, servingNotTerminating));

        assertThat(picks(rr, 3)).containsOnly(servingTerminating);
    }

    @Test
    void readyEndpointsWinOverServingTerminatingOnes() {
        Backend terminating = backend(1, 1, false, true, true);
        Backend a = ready(2);
        Scheduler rr = new RoundRobinScheduler(List.of(terminating, a));

        assertThat(picks(rr, 3)).containsOnly(a);
    }

    @Test
    void noEligibleEndpointGivesNull() {
        assertThat(new RoundRobinScheduler(List.of()).pick(CLIENT)).isNull();
        assertThat(new RoundRobinScheduler(List.of(backend(1, 1, false, false, false), backend(2, 0, true, true, false)))
                .pick(CLIENT)).isNull();
    }

    @Test
    void defaultMethodsKeepTheEndpointCounters() {
        Backend a = ready(1);
        Scheduler rr = new RoundRobinScheduler(List.of(a));
        rr.opened(a);
        rr.opened(a);
        rr.closed(a);
        rr.connectFailed(a, CLIENT);

        assertThat(a.counters().active()).isEqualTo(1);
        assertThat(a.counters().opened()).isEqualTo(2);
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

    private static List<Backend> picks(Scheduler scheduler, int n) {
        List<Backend> picks = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            picks.add(scheduler.pick(CLIENT));
        }
        return picks;
    }

    private static Backend ready(int host) {
        return new Backend(Endpoint.of(address(host)), new EndpointCounters());
    }

    private static Backend backend(int host, int weight, boolean ready, boolean serving, boolean terminating) {
        return new Backend(new Endpoint(address(host), weight, "", ready, serving, terminating), new EndpointCounters());
    }

    private static InetSocketAddress address(int host) {
        return new InetSocketAddress(InetAddress.getLoopbackAddress(), 9000 + host);
    }
}

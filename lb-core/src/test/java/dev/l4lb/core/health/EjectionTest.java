package dev.l4lb.core.health;

import static dev.l4lb.core.health.HealthPorts.apply;
import static dev.l4lb.core.health.HealthPorts.backend;
import static dev.l4lb.core.health.HealthPorts.client;
import static dev.l4lb.core.health.HealthPorts.health;
import static dev.l4lb.core.health.HealthPorts.outliers;
import static dev.l4lb.core.health.HealthPorts.picked;
import static dev.l4lb.core.health.HealthPorts.route;
import static dev.l4lb.core.health.HealthPorts.service;
import static org.assertj.core.api.Assertions.assertThat;

import java.net.ConnectException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;

import dev.l4lb.core.model.HealthPolicy;
import dev.l4lb.core.sched.Backend;
import dev.l4lb.core.table.Admission;
import dev.l4lb.core.table.Route;

/** Outlier detection from real connects: when it ejects, for how long, and never more than its share. */
class EjectionTest {
    private static final long SECOND = TimeUnit.SECONDS.toNanos(1);
    /** A synthetic clock far from 0, as System.nanoTime() may be. */
    private static final long T0 = 1_000_000 * SECOND;
    private static final HealthPolicy THREE_FAILURES = outliers(3, Duration.ofSeconds(10), Duration.ofSeconds(35), 50);

    private final HealthPorts.Recording events = new HealthPorts.Recording();

    @Test
    void nConnectFailuresInARowEjectAndNotNMinusOne() {
        Route route = route(apply(service(THREE_FAILURES, 1, 2), events));
        EndpointHealth one = health(route, 1);

        one.connectFailed("refused", T0);
        one.connectFailed("refused", T0);
        assertThat(one.state()).isEqualTo(HealthState.UP);
        assertThat(one.ejections()).isZero();
        assertThat(one.ejectedUntil()).isNull();

        one.connectFailed("refused", T0);
        assertThat(one.state()).isEqualTo(HealthState.EJECTED);
        assertThat(one.ejections()).isEqualTo(1);
        assertThat(one.ejectedUntil()).isNotNull();
        assertThat(one.ejectedUntilNanos).isEqualTo(T0 + 10 * SECOND);
        assertThat(events.transitions()).containsExactly("10.0.0.1 UP->EJECTED");
        assertThat(events.changes().get(0).reason()).contains("3 connect(s)").contains("10000 ms");
        assertThat(picked(route, 20)).containsExactly(backend(route, 2));
    }

    @Test
    void anEstablishedConnectionInBetweenStartsTheRunAgain() {
        Route route = route(apply(service(THREE_FAILURES, 1, 2), events));
        Backend one = backend(route, 1);
        EndpointHealth health = one.counters().health();

        health.connectFailed("refused", T0);
        health.connectFailed("refused", T0);
        one.reached();
        health.connectFailed("refused", T0);
        health.connectFailed("refused", T0);
        assertThat(health.state()).isEqualTo(HealthState.UP);

        health.connectFailed("refused", T0);
        assertThat(health.state()).isEqualTo(HealthState.EJECTED);
    }

    @Test
    void admissionFeedsFailedConnectsToOutlierDetection() {
        Route route = route(apply(service(THREE_FAILURES, 1, 2), events));
        Backend one = backend(route, 1);

        for (int i = 0; i < 3; i++) {
            Admission admission = new Admission(route, client(i));
            assertThat(admission.admit()).isNull();
            assertThat(one.tryAcquire()).isTrue();
            one.release();
            admission.failed(one, new ConnectException("Connection refused"));
            admission.release();
        }

        assertThat(one.counters().health().state()).isEqualTo(HealthState.EJECTED);
        assertThat(one.counters().health().lastFailure()).isEqualTo("Connection refused");
    }

    @Test
    void noMoreThanMaxEjectionPercentOfThePortIsEjected() {
        Route route = route(apply(service(THREE_FAILURES, 1, 2, 3, 4), events));

        for (Backend backend : route.backends()) {
            for (int i = 0; i < 5; i++) {
                backend.counters().health().connectFailed("refused", T0);
            }
        }

        assertThat(route.backends()).filteredOn(b -> b.counters().health().state() == HealthState.EJECTED).hasSize(2);
        assertThat(route.backends()).filteredOn(Backend::inService).hasSize(2);
        assertThat(route.health().allOut()).isFalse();
        assertThat(events.transitions()).hasSize(2);
    }

    @Test
    void aRepeatedEjectionLastsTwiceAsLongUpToTheMaximumAndBackToTheBaseAfterServingThatLong() {
        Route route = route(apply(service(THREE_FAILURES, 1, 2), events));
        EndpointHealth one = health(route, 1);

        long until = eject(one, T0);
        assertThat(until - T0).as("first").isEqualTo(10 * SECOND);
        route.health().expireEjections(until - 1);
        assertThat(one.state()).as("a nanosecond before it ends").isEqualTo(HealthState.EJECTED);
        route.health().expireEjections(until);
        assertThat(one.state()).isEqualTo(HealthState.UP);

        one.connectFailed("refused", until + SECOND);
        one.connectFailed("refused", until + SECOND);
        assertThat(one.state()).as("back with a fresh run of failures").isEqualTo(HealthState.UP);
        long second = until + SECOND;
        until = eject(one, second);
        assertThat(until - second).as("second, doubled").isEqualTo(20 * SECOND);

        route.health().expireEjections(until);
        long third = until + SECOND;
        until = eject(one, third);
        assertThat(until - third).as("third: 40 s, capped at 35").isEqualTo(35 * SECOND);

        route.health().expireEjections(until);
        long fourth = until + 35 * SECOND - 1;
        until = eject(one, fourth);
        assertThat(until - fourth).as("fourth, a nanosecond short of serving maxEjectionTime").isEqualTo(35 * SECOND);

        route.health().expireEjections(until);
        long fifth = until + 35 * SECOND;
        until = eject(one, fifth);
        assertThat(until - fifth).as("after serving maxEjectionTime: the base again").isEqualTo(10 * SECOND);
        assertThat(one.ejections()).isEqualTo(5);
    }

    @Test
    void concurrentFailuresNeverEjectMoreThanTheShare() throws Exception {
        int threads = 8;
        HealthPolicy oneFailure = outliers(1, Duration.ofSeconds(10), Duration.ofSeconds(35), 50);
        Route route = route(apply(service(oneFailure, 1, 2, 3, 4, 5, 6, 7, 8), events));
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            for (int round = 0; round < 50; round++) {
                long now = T0 + round * 100 * SECOND;
                CountDownLatch start = new CountDownLatch(1);
                List<Future<?>> done = new ArrayList<>();
                for (int t = 0; t < threads; t++) {
                    int offset = t;
                    done.add(pool.submit(() -> {
                        start.await();
                        for (int i = 0; i < 200; i++) {
                            Backend b = route.backends().get((offset + i) % route.backends().size());
                            b.counters().health().connectFailed("refused", now);
                        }
                        return null;
                    }));
                }
                start.countDown();
                for (Future<?> f : done) {
                    f.get(10, TimeUnit.SECONDS);
                }
                assertThat(route.backends()).as("round %d", round)
                        .filteredOn(b -> b.counters().health().state() == HealthState.EJECTED).hasSize(4);
                route.health().expireEjections(now + 50 * SECOND);
                assertThat(route.backends()).allSatisfy(b -> assertThat(b.inService()).isTrue());
            }
        } finally {
            pool.shutdownNow();
        }
        long ejections = route.backends().stream().mapToLong(b -> b.counters().health().ejections()).sum();
        assertThat(ejections).isEqualTo(50 * 4);
        assertThat(events.transitions()).filteredOn(t -> t.endsWith("->EJECTED")).hasSize(200);
    }

    /** Fails {@code endpoint}'s connects at {@code now} until it is ejected; when the ejection ends. */
    private static long eject(EndpointHealth endpoint, long now) {
        for (int i = 0; i < 3; i++) {
            endpoint.connectFailed("refused", now);
        }
        assertThat(endpoint.state()).isEqualTo(HealthState.EJECTED);
        return endpoint.ejectedUntilNanos;
    }
}

package dev.l4lb.core.sched;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

import dev.l4lb.core.health.HealthListener;
import dev.l4lb.core.health.PortHealth;
import dev.l4lb.core.model.Endpoint;
import dev.l4lb.core.model.HealthCheck;
import dev.l4lb.core.model.HealthPolicy;
import dev.l4lb.core.model.OutlierDetection;

/** Endpoints, clients and pick sequences for the scheduler tests, built without DNS. */
final class Backends {
    static final InetAddress CLIENT = client(1);

    private Backends() {
    }

    /** A ready endpoint of weight 1 without a connection limit, at 10.1.0.{host}:8080. */
    static Backend ready(int host) {
        return backend(host, 1, true, true, false, 0);
    }

    static Backend weighted(int host, int weight) {
        return backend(host, weight, true, true, false, 0);
    }

    /** A ready endpoint of weight 1 that takes at most {@code maxConnections} at once. */
    static Backend limited(int host, int maxConnections) {
        return backend(host, 1, true, true, false, maxConnections);
    }

    static Backend backend(int host, int weight, boolean ready, boolean serving, boolean terminating,
                           int maxConnections) {
        return Backend.of(new Endpoint(address(host), weight, "", ready, serving, terminating, maxConnections));
    }

    /** 10.1.x.y:8080, distinct for every host number below 65,536. */
    static InetSocketAddress address(int host) {
        return new InetSocketAddress(ip(10, 1, host >>> 8, host & 0xff), 8080);
    }

    /** A client address, distinct for every {@code i} below 2^24 (10.x.y.z). */
    static InetAddress client(int i) {
        return ip(10, 2 + (i >>> 16), (i >>> 8) & 0xff, i & 0xff);
    }

    /** Gives {@code backend} {@code times} more active connections; they must all fit. */
    static Backend acquire(Backend backend, int times) {
        for (int i = 0; i < times; i++) {
            if (!backend.tryAcquire()) {
                throw new IllegalStateException(backend + " is full after " + i + " of " + times);
            }
        }
        return backend;
    }

    /**
     * Puts {@code backends} under one port's health, as a snapshot going into service does: a check
     * that takes an endpoint down on one failure and back on one pass ({@link #down}, {@link #up}),
     * and outlier detection that ejects on one failed connect, any share of the port ({@link #eject}).
     */
    static PortHealth underHealth(boolean failOpen, Backend... backends) {
        HealthCheck d = HealthCheck.tcpDefaults();
        HealthCheck check = new HealthCheck(d.kind(), d.interval(), d.timeout(), 1, 1, 0, d.path(), d.expectStatus(),
                false, false);
        OutlierDetection detection = new OutlierDetection(1, Duration.ofSeconds(30), Duration.ofSeconds(300), 100);
        PortHealth port = new PortHealth("test/port");
        port.attach(new HealthPolicy(Optional.of(check), Optional.of(detection), failOpen),
                java.util.Arrays.stream(backends).map(b -> b.counters().health()).toList(), HealthListener.NONE);
        return port;
    }

    /** Takes {@code backend}, under {@link #underHealth}, down by its check. */
    static Backend down(Backend backend) {
        backend.counters().health().checkFailed(1, "test: down");
        return backend;
    }

    /** Brings {@code backend}, under {@link #underHealth}, back up by its check. */
    static Backend up(Backend backend) {
        backend.counters().health().checkPassed(1);
        return backend;
    }

    /** Ejects {@code backend}, under {@link #underHealth}, by one failed connect. */
    static Backend eject(Backend backend) {
        backend.counters().health().connectFailed("test: refused", System.nanoTime());
        return backend;
    }

    /** {@code n} first tries from the same client. */
    static List<Backend> picks(Scheduler scheduler, int n) {
        List<Backend> picks = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            picks.add(scheduler.pick(CLIENT));
        }
        return picks;
    }

    /** {@code n} picks, each claimed with tryAcquire as the data plane does, so load moves. */
    static List<Backend> picksAcquiring(Scheduler scheduler, int n) {
        List<Backend> picks = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            Backend chosen = scheduler.pick(CLIENT);
            picks.add(chosen);
            if (chosen != null && !chosen.tryAcquire()) {
                throw new IllegalStateException("picked " + chosen + " although it is full");
            }
        }
        return picks;
    }

    /**
     * Pearson's chi-square statistic of {@code observed} counts against {@code probabilities}
     * (which add up to 1; a probability of 0 must have a count of 0, checked by the caller).
     */
    static double chiSquare(long[] observed, double[] probabilities) {
        long total = 0;
        for (long count : observed) {
            total += count;
        }
        double chi = 0;
        for (int i = 0; i < observed.length; i++) {
            if (probabilities[i] == 0) {
                continue;
            }
            double expected = total * probabilities[i];
            double diff = observed[i] - expected;
            chi += diff * diff / expected;
        }
        return chi;
    }

    private static InetAddress ip(int a, int b, int c, int d) {
        try {
            return InetAddress.getByAddress(new byte[] {(byte) a, (byte) b, (byte) c, (byte) d});
        } catch (UnknownHostException e) {
            throw new AssertionError("four bytes are always an address", e);
        }
    }
}

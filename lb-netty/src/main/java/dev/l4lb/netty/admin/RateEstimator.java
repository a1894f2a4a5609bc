package dev.l4lb.netty.admin;

import java.util.IdentityHashMap;
import java.util.Map;
import java.util.function.Supplier;

import dev.l4lb.core.sched.Backend;
import dev.l4lb.core.sched.EndpointCounters;
import dev.l4lb.core.table.Outcome;
import dev.l4lb.core.table.PortCounters;
import dev.l4lb.core.table.Route;
import dev.l4lb.core.table.ServiceSnapshot;

/**
 * Per-second rates of new connections and bytes for every port and endpoint, as IPVS's rate
 * estimator keeps them for {@code ipvsadm --rate}: the counters are sampled every interval and
 * each rate is the difference over that interval. It runs on the admin server's thread, off the
 * data plane; ports and endpoints that leave the config leave the table at the next sample.
 */
final class RateEstimator implements Runnable {
    /** Connections, bytes in and bytes out per second. */
    record Rate(double connections, double bytesIn, double bytesOut) {
        static final Rate ZERO = new Rate(0, 0, 0);
    }

    private record Sample(long connections, long bytesIn, long bytesOut) {
    }

    private final Supplier<ServiceSnapshot> snapshot;
    private Map<Object, Sample> previous = new IdentityHashMap<>();
    private long previousNanos;
    private volatile Map<Object, Rate> rates = Map.of();

    RateEstimator(Supplier<ServiceSnapshot> snapshot) {
        this.snapshot = snapshot;
    }

    /** Takes a sample; the rates are the change since the one before. */
    @Override
    public void run() {
        long now = System.nanoTime();
        double seconds = (now - previousNanos) / 1e9;
        Map<Object, Sample> samples = new IdentityHashMap<>();
        Map<Object, Rate> next = new IdentityHashMap<>();
        for (Route route : snapshot.get().routes()) {
            PortCounters port = route.counters();
            add(port, new Sample(port.count(Outcome.OK), port.bytesIn(), port.bytesOut()), samples, next, seconds);
            for (Backend backend : route.backends()) {
                EndpointCounters c = backend.counters();
                add(c, new Sample(c.established(), c.bytesIn(), c.bytesOut()), samples, next, seconds);
            }
        }
        previous = samples;
        previousNanos = now;
        rates = next;
    }

    private void add(Object key, Sample sample, Map<Object, Sample> samples, Map<Object, Rate> next, double seconds) {
        samples.put(key, sample);
        Sample before = previous.get(key);
        if (before != null && seconds > 0) {
            next.put(key, new Rate((sample.connections - before.connections) / seconds,
                    (sample.bytesIn - before.bytesIn) / seconds, (sample.bytesOut - before.bytesOut) / seconds));
        }
    }

    /** The rate of a port's or an endpoint's counters; zero until two samples were taken. */
    Rate of(Object counters) {
        return rates.getOrDefault(counters, Rate.ZERO);
    }
}

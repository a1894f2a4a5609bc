package dev.l4lb.core.health;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

import org.jspecify.annotations.Nullable;

import dev.l4lb.core.model.Endpoint;
import dev.l4lb.core.model.HealthCheck;
import dev.l4lb.core.model.HealthPolicy;
import dev.l4lb.core.model.OutlierDetection;
import dev.l4lb.core.model.PortPolicy;
import dev.l4lb.core.model.Protocol;
import dev.l4lb.core.model.SchedulerType;
import dev.l4lb.core.model.Service;
import dev.l4lb.core.model.ServicePort;
import dev.l4lb.core.model.SessionAffinity;
import dev.l4lb.core.sched.Backend;
import dev.l4lb.core.table.Route;
import dev.l4lb.core.table.ServiceSnapshot;

/** One service port with a health policy, built and activated the way the data plane does it, and what its listener heard. */
final class HealthPorts {
    static final InetSocketAddress LISTENER = new InetSocketAddress(InetAddress.getLoopbackAddress(), 18080);

    private HealthPorts() {
    }

    /** An active TCP check that takes an endpoint down after {@code fall} failures and brings it back after {@code rise} passes. */
    static HealthPolicy check(int rise, int fall, boolean startDown, boolean failOpen) {
        HealthCheck d = HealthCheck.tcpDefaults();
        HealthCheck check = new HealthCheck(d.kind(), d.interval(), d.timeout(), rise, fall, 0, d.path(), d.expectStatus(),
                false, startDown);
        return new HealthPolicy(Optional.of(check), Optional.empty(), failOpen);
    }

    /** Outlier detection only, ejecting after {@code failures} failed connects in a row. */
    static HealthPolicy outliers(int failures, Duration base, Duration max, int maxPercent) {
        return new HealthPolicy(Optional.empty(), Optional.of(new OutlierDetection(failures, base, max, maxPercent)), true);
    }

    /** A port of {@code demo/web} scheduling with {@code type}, endpoints at 10.0.0.{host}:80. */
    static Service service(SchedulerType type, SessionAffinity affinity, HealthPolicy health, int... hosts) {
        PortPolicy d = PortPolicy.defaults();
        PortPolicy policy = new PortPolicy(type, affinity, d.sessionAffinityTimeoutSeconds(), d.sessionAffinityMaxEntries(),
                d.proxyProtocol(), false, d.acceptProxyProtocol(), List.of(), d.connectTimeout(), d.idleTimeout(), 0);
        List<Endpoint> endpoints = new ArrayList<>();
        for (int host : hosts) {
            endpoints.add(Endpoint.of(address(host)));
        }
        ServicePort port = new ServicePort("http", Protocol.TCP, List.of(LISTENER), 80, policy, endpoints).withHealth(health);
        return new Service("demo", "web", List.of(port));
    }

    static Service service(HealthPolicy health, int... hosts) {
        return service(SchedulerType.RR, SessionAffinity.NONE, health, hosts);
    }

    /** The snapshot for {@code service} built on {@code previous} and put in service, telling {@code events}. */
    static ServiceSnapshot apply(ServiceSnapshot previous, Service service, HealthListener events) {
        ServiceSnapshot next = ServiceSnapshot.build(List.of(service), previous);
        next.activate(events);
        return next;
    }

    static ServiceSnapshot apply(Service service, HealthListener events) {
        return apply(ServiceSnapshot.empty(), service, events);
    }

    /** The one route of a snapshot these helpers built. */
    static Route route(ServiceSnapshot snapshot) {
        return snapshot.routes().get(0);
    }

    static InetSocketAddress address(int host) {
        return new InetSocketAddress(ip(10, 0, 0, host), 80);
    }

    static Backend backend(Route route, int host) {
        for (Backend backend : route.backends()) {
            if (backend.address().equals(address(host))) {
                return backend;
            }
        }
        throw new IllegalArgumentException("no endpoint 10.0.0." + host + " in " + route.backends());
    }

    static EndpointHealth health(Route route, int host) {
        return backend(route, host).counters().health();
    }

    /**
     * The endpoints {@code picks} first tries from distinct clients went to (null for a pick that
     * found none), each claimed while the others are picked, so that least-load schedulers move
     * on, and all released at the end.
     */
    static Set<@Nullable Backend> picked(Route route, int picks) {
        Set<@Nullable Backend> picked = new HashSet<>();
        List<Backend> claimed = new ArrayList<>();
        for (int i = 0; i < picks; i++) {
            Backend chosen = route.scheduler().pick(client(i));
            picked.add(chosen);
            if (chosen != null && chosen.tryAcquire()) {
                claimed.add(chosen);
            }
        }
        claimed.forEach(Backend::release);
        return picked;
    }

    /** A client address, distinct for every {@code i} below 2^16. */
    static InetAddress client(int i) {
        return ip(192, 168, (i >>> 8) & 0xff, i & 0xff);
    }

    static InetAddress ip(int a, int b, int c, int d) {
        try {
            return InetAddress.getByAddress(new byte[] {(byte) a, (byte) b, (byte) c, (byte) d});
        } catch (UnknownHostException e) {
            throw new AssertionError("four bytes are always an address", e);
        }
    }

    /** One transition as a listener heard it. */
    record Event(String endpoint, @Nullable HealthState from, @Nullable HealthState to, @Nullable String reason,
                 @Nullable Boolean failingOpen) {
    }

    /** Records every transition, in order; safe to call from several threads. */
    static final class Recording implements HealthListener {
        final List<Event> events = new ArrayList<>();

        @Override
        public synchronized void endpointChanged(PortHealth port, EndpointHealth endpoint, HealthState from, HealthState to,
                                                 @Nullable String reason) {
            events.add(new Event(endpoint.address().getAddress().getHostAddress(), from, to, reason, null));
        }

        @Override
        public synchronized void failOpenChanged(PortHealth port, boolean failingOpen) {
            events.add(new Event(port.name(), null, null, null, failingOpen));
        }

        synchronized List<Event> changes() {
            return List.copyOf(events);
        }

        /** The endpoint transitions heard, as {@code 10.0.0.1 UP->DOWN}. */
        synchronized List<String> transitions() {
            return events.stream().filter(e -> e.failingOpen() == null)
                    .map(e -> e.endpoint() + " " + e.from() + "->" + e.to()).toList();
        }

        /** The fail-open changes heard, in order. */
        synchronized List<Boolean> failOpen() {
            return events.stream().filter(e -> e.failingOpen() != null).map(Event::failingOpen).toList();
        }

        synchronized void clear() {
            events.clear();
        }
    }
}

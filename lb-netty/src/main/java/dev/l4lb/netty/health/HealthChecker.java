package dev.l4lb.netty.health;

import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

import io.netty.channel.EventLoop;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import org.jspecify.annotations.Nullable;

import dev.l4lb.core.health.EndpointHealth;
import dev.l4lb.core.health.PortHealth;
import dev.l4lb.core.model.HealthCheck;
import dev.l4lb.core.model.ProxyProtocol;
import dev.l4lb.core.table.Route;
import dev.l4lb.core.table.ServiceSnapshot;
import dev.l4lb.netty.proxyprotocol.ProxyHeaders;
import dev.l4lb.netty.transport.Transport;

/**
 * Probes the endpoints of every port that has a {@code healthCheck}, each on its own schedule,
 * from one event loop of its own (its thread starts with the first check), and expires outlier
 * ejections. Every target sits in one queue ordered by its next event (a probe's start or its
 * deadline); a tick every {@link #TICK_MILLIS} ms runs what is due, so thousands of endpoints cost
 * one timer, not one per probe. A snapshot put in force hands over its targets; an endpoint that
 * stays keeps its target, phase and probe.
 */
public final class HealthChecker implements AutoCloseable {
    /** The schedule's resolution: probes start and time out within this much of their time. */
    static final long TICK_MILLIS = 10;

    private final Transport transport;
    private final MultiThreadIoEventLoopGroup group;
    private final EventLoop loop;
    // The fields below are the loop's own.
    private final PriorityQueue<CheckTarget> queue = new PriorityQueue<>(Comparator.comparingLong(t -> t.dueNanos));
    private Map<EndpointHealth, CheckTarget> targets = new IdentityHashMap<>();
    private List<PortHealth> ejecting = List.of();
    private @Nullable ScheduledFuture<?> tick;
    private volatile int targetCount;

    public HealthChecker(Transport transport) {
        this.transport = transport;
        // Netty starts a loop's thread at its first task: a config without checks costs no thread.
        this.group = transport.newGroup(1, "l4lb-health");
        this.loop = group.next();
    }

    /** Checks what {@code snapshot} asks for from now on (call once it is in force: its ports' health holds their endpoints then). */
    public void apply(ServiceSnapshot snapshot) {
        List<Wanted> wanted = new ArrayList<>();
        List<PortHealth> outlierPorts = new ArrayList<>();
        for (Route route : snapshot.routes()) {
            if (route.port().health().outlierDetection().isPresent()) {
                outlierPorts.add(route.health());
            }
            HealthCheck check = route.port().health().check().orElse(null);
            if (check == null) {
                continue;
            }
            // The config allows sendProxyProtocol only where the port sends PROXY headers (TCP ports).
            byte[] header = check.sendProxyProtocol() && route.policy().proxyProtocol() != ProxyProtocol.NONE
                    ? ProxyHeaders.local(route.policy().proxyProtocol()) : null;
            // The endpoints the snapshot put under the port's health when it went into service.
            for (EndpointHealth endpoint : route.health().members()) {
                InetSocketAddress address = check.port() == 0 ? endpoint.address()
                        : new InetSocketAddress(endpoint.address().getAddress(), check.port());
                wanted.add(new Wanted(endpoint, address, check, header));
            }
        }
        if (wanted.isEmpty() && outlierPorts.isEmpty() && targets.isEmpty() && tick == null) {
            return; // nothing to check, nothing was: leave the thread unstarted
        }
        loop.execute(() -> replace(wanted, outlierPorts));
    }

    /** A target a snapshot asks for. */
    private record Wanted(EndpointHealth health, InetSocketAddress address, HealthCheck check, byte @Nullable [] header) {
    }

    /** On the loop: the new set of targets; those unchanged keep their schedule and their probe. */
    private void replace(List<Wanted> wanted, List<PortHealth> outlierPorts) {
        long now = System.nanoTime();
        Map<EndpointHealth, CheckTarget> next = new IdentityHashMap<>(wanted.size() * 2);
        for (Wanted w : wanted) {
            CheckTarget kept = targets.remove(w.health());
            if (kept != null && kept.check().equals(w.check()) && kept.address().equals(w.address())) {
                next.put(w.health(), kept);
            } else {
                if (kept != null) {
                    queue.remove(kept);
                    kept.cancel();
                }
                CheckTarget target = new CheckTarget(w.health(), w.address(), w.check(), w.header(), now);
                next.put(w.health(), target);
                queue.add(target);
            }
        }
        for (CheckTarget gone : targets.values()) {
            queue.remove(gone);
            gone.cancel();
        }
        targets = next;
        targetCount = next.size();
        ejecting = List.copyOf(outlierPorts);
        boolean needed = !targets.isEmpty() || !ejecting.isEmpty();
        if (needed && tick == null) {
            tick = loop.scheduleAtFixedRate(this::tick, TICK_MILLIS, TICK_MILLIS, TimeUnit.MILLISECONDS);
        } else if (!needed && tick != null) {
            tick.cancel(false);
            tick = null;
        }
    }

    private void tick() {
        long now = System.nanoTime();
        CheckTarget head;
        while ((head = queue.peek()) != null && now - head.dueNanos >= 0) {
            queue.poll();
            head.due(loop, transport, now);
            queue.add(head);
        }
        for (int i = 0, n = ejecting.size(); i < n; i++) {
            ejecting.get(i).expireEjections(now);
        }
    }

    /** Endpoints being probed now (for tests and the log). */
    public int targets() {
        return targetCount;
    }

    /** Stops probing; probes in flight are dropped unreported. */
    @Override
    public void close() {
        group.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
    }
}

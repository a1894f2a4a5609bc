package dev.l4lb.netty.metrics;

import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;
import java.util.function.ToDoubleFunction;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.netty4.NettyAllocatorMetrics;
import io.micrometer.core.instrument.binder.netty4.NettyEventExecutorMetrics;
import io.micrometer.core.instrument.binder.system.FileDescriptorMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufAllocatorMetricProvider;
import io.netty.util.concurrent.EventExecutor;

import dev.l4lb.core.affinity.ClientIpAffinity;
import dev.l4lb.core.health.EndpointHealth;
import dev.l4lb.core.health.HealthState;
import dev.l4lb.core.health.PortHealth;
import dev.l4lb.core.limits.PortLimiter;
import dev.l4lb.core.model.Addresses;
import dev.l4lb.core.model.HealthPolicy;
import dev.l4lb.core.model.Protocol;
import dev.l4lb.core.model.ServicePort;
import dev.l4lb.core.sched.Backend;
import dev.l4lb.core.sched.EndpointCounters;
import dev.l4lb.core.table.DatagramDrop;
import dev.l4lb.core.table.HeaderRejection;
import dev.l4lb.core.table.HelloRejection;
import dev.l4lb.core.table.ServerNameRoutes;
import dev.l4lb.core.table.Outcome;
import dev.l4lb.core.table.PortCounters;
import dev.l4lb.core.table.Route;
import dev.l4lb.core.table.ServiceSnapshot;
import dev.l4lb.netty.tcp.DescriptorBudget;
import dev.l4lb.netty.transport.AcceptErrors;
import dev.l4lb.netty.udp.ReceiveBufferDrops;

/**
 * The balancer's Prometheus metrics. Per-port and per-endpoint meters read the counters the
 * data plane already keeps (LongAdders and atomics updated without locks or allocation), so
 * counting costs the hot path nothing more; the meters are resolved once per snapshot by
 * {@link #bind}, never per connection. Labels are service, port, protocol, endpoint, outcome
 * and direction: all bounded by the config, never a client address.
 */
public final class BalancerMetrics implements AutoCloseable {
    public static final String PREFIX = "l4lb";

    /** Connect times of a healthy local network up to a dead endpoint's connect timeout. */
    private static final Duration[] CONNECT_BUCKETS = {
        Duration.ofNanos(100_000), Duration.ofNanos(250_000), Duration.ofNanos(500_000), Duration.ofMillis(1),
        Duration.ofNanos(2_500_000), Duration.ofMillis(5), Duration.ofMillis(10), Duration.ofMillis(25),
        Duration.ofMillis(50), Duration.ofMillis(100), Duration.ofMillis(250), Duration.ofMillis(500),
        Duration.ofSeconds(1), Duration.ofNanos(2_500_000_000L), Duration.ofSeconds(5), Duration.ofSeconds(10)};
    /** kube-proxy's sync_proxy_rules_duration_seconds buckets: 1 ms doubling to about 16 s. */
    private static final Duration[] SYNC_BUCKETS = syncBuckets();
    /** The reason label of the kernel's drops, beside those l4lb counts itself ({@link DatagramDrop}). */
    public static final String RECEIVE_BUFFER = "receive_buffer";

    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final ReceiveBufferDrops receiveBufferDrops = new ReceiveBufferDrops();
    private final JvmGcMetrics gc = new JvmGcMetrics();
    private final Counter reloadsApplied;
    private final Counter reloadsRejected;
    private final Timer syncDuration;
    private final AtomicLong lastSyncMillis = new AtomicLong();
    // Function counters hold their source weakly: these fields keep the suppliers alive.
    private final LongSupplier unrouted;
    private final LongSupplier logDropped;
    private final AcceptErrors acceptErrors;
    private final DescriptorBudget descriptors;
    /** The per-port and per-endpoint meters of the snapshot in force, with what each reads. */
    private Map<Meter.Id, Object> bound = Map.of();

    /**
     * @param loops      the data plane's event loops (pending tasks per loop)
     * @param unrouted   connections that arrived on a listener no route had
     * @param logDropped connection-log lines dropped because the writer fell behind
     * @param acceptErrors the TCP listeners' failed accepts
     * @param descriptors  TCP connections open against the descriptor limit
     */
    public BalancerMetrics(Iterable<EventExecutor> loops, LongSupplier unrouted, LongSupplier logDropped, AcceptErrors acceptErrors,
                           DescriptorBudget descriptors) {
        this.unrouted = unrouted;
        this.logDropped = logDropped;
        this.acceptErrors = acceptErrors;
        this.descriptors = descriptors;
        new JvmMemoryMetrics().bindTo(registry);
        gc.bindTo(registry);
        new JvmThreadMetrics().bindTo(registry);
        new ClassLoaderMetrics().bindTo(registry);
        new ProcessorMetrics().bindTo(registry);
        new UptimeMetrics().bindTo(registry);
        new FileDescriptorMetrics().bindTo(registry);
        if (ByteBufAllocator.DEFAULT instanceof ByteBufAllocatorMetricProvider allocator) {
            new NettyAllocatorMetrics(allocator).bindTo(registry);
        }
        new NettyEventExecutorMetrics(loops).bindTo(registry);

        reloadsApplied = reloads("applied");
        reloadsRejected = reloads("rejected");
        syncDuration = Timer.builder(PREFIX + ".sync.proxy.rules.duration")
                .description("Time to build and apply a snapshot: kube-proxy's sync_proxy_rules_duration_seconds")
                .serviceLevelObjectives(SYNC_BUCKETS)
                .register(registry);
        Gauge.builder(PREFIX + ".sync.proxy.rules.last.timestamp", lastSyncMillis, t -> t.get() / 1000.0)
                .baseUnit("seconds")
                .description("When the snapshot in force was applied (Unix time)")
                .register(registry);
        FunctionCounter.builder(PREFIX + ".connections.unrouted", unrouted, s -> s.getAsLong())
                .description("Connections accepted on a listener that the snapshot in force had no route for (reset)")
                .register(registry);
        FunctionCounter.builder(PREFIX + ".connection.log.dropped", logDropped, s -> s.getAsLong())
                .description("Connection log lines dropped because the log writer fell behind")
                .register(registry);
        for (AcceptErrors.Reason reason : AcceptErrors.Reason.values()) {
            FunctionCounter.builder(PREFIX + ".accept.errors", acceptErrors, a -> a.count(reason))
                    .tag("reason", reason.label())
                    .description("TCP listeners' failed accepts: fd_limit (out of file descriptors) or other")
                    .register(registry);
        }
        Gauge.builder(PREFIX + ".tcp.connections", descriptors, DescriptorBudget::open)
                .description("Accepted TCP connections open now, every port")
                .register(registry);
        Gauge.builder(PREFIX + ".tcp.connections.max", descriptors, DescriptorBudget::max)
                .description("TCP connections the file descriptor limit allows; at it the listeners stop accepting")
                .register(registry);
        FunctionCounter.builder(PREFIX + ".accept.pauses", descriptors, DescriptorBudget::pauses)
                .description("Times the TCP listeners stopped accepting because the descriptor budget was full")
                .register(registry);
    }

    public PrometheusMeterRegistry registry() {
        return registry;
    }

    /** The Prometheus text exposition of every meter. */
    public String scrape() {
        return registry.scrape();
    }

    /** A snapshot was applied at {@code when} after {@code nanos} of building and binding. */
    public void applied(Instant when, long nanos) {
        syncDuration.record(nanos, TimeUnit.NANOSECONDS);
        lastSyncMillis.set(when.toEpochMilli());
    }

    /**
     * Datagrams the kernel dropped for a UDP port's listeners, their receive buffers full: read
     * from the kernel, as l4lb never sees them ({@link ReceiveBufferDrops}).
     */
    public long receiveBufferDrops(ServicePort port) {
        return receiveBufferDrops.dropped(port.listen());
    }

    /** Counts a reload by its result. */
    public void reload(boolean applied) {
        (applied ? reloadsApplied : reloadsRejected).increment();
    }

    /**
     * Registers the meters of {@code snapshot}'s ports and endpoints and removes those of ports
     * and endpoints it no longer has. Meters that stay keep their series.
     */
    public synchronized void bind(ServiceSnapshot snapshot) {
        Map<Meter.Id, Object> next = new HashMap<>();
        for (Route route : snapshot.routes()) {
            Tags port = Tags.of("service", route.service().qualifiedName(), "port", route.port().name(),
                    "protocol", route.port().protocol().name());
            PortCounters counters = route.counters();
            gauge(next, PREFIX + ".port.connections.active", port, counters, PortCounters::active,
                    "Client connections (UDP: sessions) open now");
            for (Outcome outcome : Outcome.values()) {
                counter(next, PREFIX + ".port.connections", port.and("outcome", outcome.label()),
                        counters, c -> c.count(outcome), "Client connections by outcome");
            }
            counter(next, PREFIX + ".port.bytes", port.and("direction", "in"), counters, PortCounters::bytesIn,
                    "Bytes relayed: in from clients, out to clients");
            counter(next, PREFIX + ".port.bytes", port.and("direction", "out"), counters, PortCounters::bytesOut,
                    "Bytes relayed: in from clients, out to clients");
            if (route.port().protocol() == Protocol.UDP) {
                counter(next, PREFIX + ".port.datagrams", port.and("direction", "in"), counters, PortCounters::datagramsIn,
                        "UDP datagrams relayed: in from clients, out to clients");
                counter(next, PREFIX + ".port.datagrams", port.and("direction", "out"), counters, PortCounters::datagramsOut,
                        "UDP datagrams relayed: in from clients, out to clients");
                for (DatagramDrop reason : DatagramDrop.values()) {
                    counter(next, PREFIX + ".port.datagrams.dropped", port.and("reason", reason.label()),
                            counters, c -> c.dropped(reason), "UDP datagrams dropped, by reason");
                }
                counter(next, PREFIX + ".port.datagrams.dropped", port.and("reason", RECEIVE_BUFFER),
                        route.port(), this::receiveBufferDrops, "UDP datagrams dropped, by reason");
            }
            if (route.policy().acceptProxyProtocol().enabled()) {
                for (HeaderRejection reason : HeaderRejection.values()) {
                    counter(next, PREFIX + ".port.proxy.headers.rejected", port.and("reason", reason.label()),
                            counters, c -> c.headersRejected(reason), "Trusted upstreams' PROXY headers rejected, by reason");
                }
            }
            // Every way a port turns a client away, in one family an alert can sum over.
            for (Outcome outcome : Outcome.values()) {
                if (outcome.refusal()) {
                    counter(next, PREFIX + ".refused", port.and("reason", outcome.label()),
                            counters, c -> c.count(outcome), "Clients refused before any endpoint was tried, by reason");
                }
            }
            if (route.policy().limits().perClient()) {
                gauge(next, PREFIX + ".client.table.entries", port, route.limiter(), PortLimiter::clients,
                        "Clients the port's per-client limits track now");
                counter(next, PREFIX + ".client.table.evictions", port, route.limiter(), PortLimiter::evictions,
                        "Idle clients evicted from the port's client table to make room for new ones");
            }
            if (route.scheduler() instanceof ClientIpAffinity affinity) {
                gauge(next, PREFIX + ".affinity.entries", port, affinity.table(), t -> t.size(),
                        "ClientIP affinity entries now");
                counter(next, PREFIX + ".affinity.evictions", port, affinity.table(), t -> t.evictions(),
                        "ClientIP affinity entries evicted because the table was full");
            }
            HealthPolicy health = route.port().health();
            if (health.enabled()) {
                bindPortHealth(next, port, route.health());
            }
            for (Backend backend : route.backends()) {
                Tags endpoint = port.and("endpoint", Addresses.format(backend.address()));
                bindEndpoint(next, endpoint, backend.counters());
                if (health.enabled()) {
                    bindEndpointHealth(next, endpoint, health, backend.health());
                }
            }
        }
        for (ServerNameRoutes names : snapshot.serverNameRoutes()) {
            Tags listener = Tags.of("listener", Addresses.format(names.listener()));
            for (HelloRejection reason : HelloRejection.values()) {
                counter(next, PREFIX + ".tls.hello.rejected", listener.and("reason", reason.label()), names.rejections(),
                        r -> r.count(reason), "Connections to a listener routed by TLS server name reset before a port took them, by reason");
            }
        }
        for (Meter.Id old : bound.keySet()) {
            if (!next.containsKey(old)) {
                registry.remove(old); // its port or endpoint is gone (a replaced source was removed above)
            }
        }
        bound = next;
    }

    private void bindEndpoint(Map<Meter.Id, Object> next, Tags tags, EndpointCounters counters) {
        gauge(next, PREFIX + ".endpoint.connections.active", tags, counters, EndpointCounters::open,
                "Connections to the endpoint established and open now");
        gauge(next, PREFIX + ".endpoint.connections.connecting", tags, counters, EndpointCounters::connecting,
                "Connects to the endpoint in progress now");
        counter(next, PREFIX + ".endpoint.connections", tags, counters, EndpointCounters::established,
                "Connections established to the endpoint");
        counter(next, PREFIX + ".endpoint.connect.failures", tags, counters, EndpointCounters::connectFailures,
                "Connects to the endpoint that failed (refused, timed out, unreachable)");
        counter(next, PREFIX + ".endpoint.bytes", tags.and("direction", "in"), counters, EndpointCounters::bytesIn,
                "Bytes relayed: in from clients to the endpoint, out from it to clients");
        counter(next, PREFIX + ".endpoint.bytes", tags.and("direction", "out"), counters, EndpointCounters::bytesOut,
                "Bytes relayed: in from clients to the endpoint, out from it to clients");
        Timer connect = Timer.builder(PREFIX + ".endpoint.connect.latency")
                .description("Time from starting a connect to the endpoint to the connection being established")
                .tags(tags)
                .serviceLevelObjectives(CONNECT_BUCKETS)
                .register(registry);
        next.put(connect.getId(), counters);
        counters.observeConnectTimes(nanos -> connect.record(nanos, TimeUnit.NANOSECONDS));
    }

    /**
     * Health meters only for a port whose policy can take an endpoint out: elsewhere every endpoint
     * would read healthy forever and each would only add series.
     */
    private void bindPortHealth(Map<Meter.Id, Object> next, Tags port, PortHealth health) {
        // The counter is not "port.fail.open": that is the gauge's family, and Prometheus allows one type per family.
        gauge(next, PREFIX + ".port.fail.open", port, health, h -> h.failingOpen() ? 1 : 0,
                "1 while every endpoint is down or ejected and the port routes as if all were up, else 0");
        counter(next, PREFIX + ".port.fail.open.entries", port, health, PortHealth::failOpenEntered,
                "Times the port started failing open (every endpoint out)");
    }

    private void bindEndpointHealth(Map<Meter.Id, Object> next, Tags tags, HealthPolicy policy, EndpointHealth health) {
        gauge(next, PREFIX + ".endpoint.healthy", tags, health, h -> h.state() == HealthState.UP ? 1 : 0,
                "1 while the endpoint is neither down by its check nor ejected, else 0");
        if (policy.check().isPresent()) {
            counter(next, PREFIX + ".health.checks", tags.and("result", "pass"), health, EndpointHealth::checksPassed,
                    "Active health checks of the endpoint, by result");
            counter(next, PREFIX + ".health.checks", tags.and("result", "fail"), health, EndpointHealth::checksFailed,
                    "Active health checks of the endpoint, by result");
        }
        if (policy.outlierDetection().isPresent()) {
            counter(next, PREFIX + ".outlier.ejections", tags, health, EndpointHealth::ejections,
                    "Times outlier detection ejected the endpoint");
        }
    }

    private <T> void gauge(Map<Meter.Id, Object> next, String name, Tags tags, T source, ToDoubleFunction<T> value,
                           String description) {
        Meter.Id id = new Meter.Id(name, tags, null, description, Meter.Type.GAUGE);
        if (keep(next, id, source)) {
            return;
        }
        Gauge gauge = Gauge.builder(name, source, value).tags(tags).description(description)
                .strongReference(true).register(registry);
        next.put(gauge.getId(), source);
    }

    private <T> void counter(Map<Meter.Id, Object> next, String name, Tags tags, T source, ToDoubleFunction<T> value,
                             String description) {
        Meter.Id id = new Meter.Id(name, tags, null, description, Meter.Type.COUNTER);
        if (keep(next, id, source)) {
            return;
        }
        FunctionCounter counter = FunctionCounter.builder(name, source, value).tags(tags).description(description)
                .register(registry);
        next.put(counter.getId(), source);
    }

    /**
     * True when the meter of the snapshot before already reads {@code source}: it stays as it is.
     * A meter reads the object it was registered with, so when a reload gives a series a new
     * source (a ClientIP table rebuilt for a new timeout) the old meter is removed first; else
     * registering again would hand back the one reading the old object.
     */
    private boolean keep(Map<Meter.Id, Object> next, Meter.Id id, Object source) {
        Object before = bound.get(id);
        if (before == source) {
            next.put(id, source);
            return true;
        }
        if (before != null) {
            registry.remove(id);
        }
        return false;
    }

    private Counter reloads(String result) {
        return Counter.builder(PREFIX + ".config.reloads")
                .description("Config reloads by result: applied, or rejected (the running config stays)")
                .tag("result", result)
                .register(registry);
    }

    private static Duration[] syncBuckets() {
        Duration[] buckets = new Duration[15];
        for (int i = 0; i < buckets.length; i++) {
            buckets[i] = Duration.ofMillis(1L << i);
        }
        return buckets;
    }

    @Override
    public void close() {
        gc.close();
        registry.close();
    }
}

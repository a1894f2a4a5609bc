package dev.l4lb.bench;

import java.net.InetAddress;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;

import dev.l4lb.core.config.ConfigException;
import dev.l4lb.core.config.ConfigLoader;
import dev.l4lb.core.sched.Backend;
import dev.l4lb.core.table.Admission;
import dev.l4lb.core.table.Outcome;
import dev.l4lb.core.table.PortCounters;
import dev.l4lb.core.table.Route;
import dev.l4lb.core.table.ServiceSnapshot;
import dev.l4lb.netty.transport.AcceptErrors;
import dev.l4lb.netty.transport.ListenerPause;
import dev.l4lb.netty.tcp.DescriptorBudget;
import dev.l4lb.netty.metrics.BalancerMetrics;

/**
 * What counting costs one relayed TCP connection: the data plane's own {@link Admission} (admit on
 * the port, the scheduler's pick and the endpoint's claim), then the calls BackendConnector,
 * TcpAcceptHandler and TcpRelayHandler make (connect done, established with its connect time,
 * outcome OK, {@value #BATCHES} read batches each way, release both), with no registry
 * ({@code NONE}) and with {@link BalancerMetrics} bound to the snapshot ({@code PROMETHEUS}), so
 * that the connect time goes to a live Prometheus timer. No socket: the rest of a connection is
 * {@link ConnectionSetupBenchmark}'s. Separately,
 * {@code scrape} is what the admin thread pays for one {@code /metrics} text of 1 or 100 ports.
 * Run with {@code java -jar bench/jmh/target/benchmarks.jar ConnectionCounting -prof gc}; the claim
 * to check is 0 B/op for {@code connection} in both rows. JMH runs the trial teardown (which closes
 * the registry and its event loop) inside the last measured iteration, and {@code -prof gc} counts
 * every thread, so only that iteration of {@code PROMETHEUS} shows a few hundred KB, about 0.02 B/op.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class ConnectionCountingBenchmark {
    /** Read batches per direction of one connection: a short request and response. */
    static final int BATCHES = 4;
    static final long BATCH_IN = 600;
    static final long BATCH_OUT = 16_384;
    static final int ENDPOINTS = 3;
    static final InetAddress CLIENT = InetAddress.getLoopbackAddress();

    /** Whether a registry reads the counters (the pattern of Caffeine's CacheType). */
    public enum Metrics {
        /** The counters alone: the connect-time sink is the counters' own no-op. */
        NONE,
        /** BalancerMetrics bound to the snapshot: every connect time goes to a Prometheus timer. */
        PROMETHEUS
    }

    /** One port of {@value #ENDPOINTS} endpoints, as the data plane holds it after a config load. */
    @State(Scope.Benchmark)
    public static class Connection {
        /**
         * Loopback connect times, 60 µs to 12 ms, landing in 9 of the timer's 17 buckets; a power of
         * two in number so the index wraps with a mask.
         */
        private static final long[] CONNECT_NANOS = {
            61_000, 74_000, 88_000, 95_000, 120_000, 133_000, 180_000, 210_000,
            260_000, 320_000, 470_000, 650_000, 900_000, 1_700_000, 4_200_000, 12_000_000};

        @Param
        Metrics metrics;

        Route route;
        PortCounters port;
        Backend[] backends;
        int next;
        private EventLoopGroup loops;
        private BalancerMetrics registry;

        @Setup(Level.Trial)
        public void setUp() throws ConfigException {
            ServiceSnapshot snapshot = snapshot(1);
            if (metrics == Metrics.PROMETHEUS) {
                loops = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
                registry = new BalancerMetrics(loops, () -> 0, () -> 0, new AcceptErrors("test", new ListenerPause()), new DescriptorBudget(1000, List::of, new ListenerPause()));
                registry.bind(snapshot); // as Balancer.apply does, before the snapshot goes into service
            }
            snapshot.activate();
            route = snapshot.routes().get(0);
            port = route.counters();
            backends = route.backends().toArray(new Backend[0]);
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            long established = 0;
            for (Backend backend : backends) {
                established += backend.counters().established();
                if (backend.active() != 0) {
                    throw new IllegalStateException(backend + " still counts " + backend.active() + " connections");
                }
            }
            if (port.active() != 0 || port.count(Outcome.OK) != established) {
                throw new IllegalStateException("port counts " + port.active() + " open, " + port.count(Outcome.OK)
                        + " OK; endpoints " + established + " established");
            }
            if (registry != null) {
                long timed = registry.registry().find(BalancerMetrics.PREFIX + ".endpoint.connect.latency")
                        .timers().stream().mapToLong(t -> t.count()).sum();
                if (timed != established) {
                    throw new IllegalStateException("timer counted " + timed + " of " + established + " connections");
                }
                registry.close();
                loops.shutdownGracefully(0, 0, TimeUnit.MILLISECONDS).syncUninterruptibly();
            }
        }
    }

    /** {@code ports} ports of {@value #ENDPOINTS} endpoints each, every one with some traffic counted. */
    @State(Scope.Benchmark)
    public static class Scrape {
        @Param({"1", "100"})
        int ports;

        BalancerMetrics registry;
        private EventLoopGroup loops;

        @Setup(Level.Trial)
        public void setUp() throws ConfigException {
            ServiceSnapshot snapshot = snapshot(ports);
            loops = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
            registry = new BalancerMetrics(loops, () -> 0, () -> 0, new AcceptErrors("test", new ListenerPause()), new DescriptorBudget(1000, List::of, new ListenerPause()));
            registry.bind(snapshot);
            snapshot.activate();
            long nanos = 50_000;
            for (Route route : snapshot.routes()) {
                // Ten connections per endpoint: round-robin spreads them evenly.
                for (int i = 0; i < 10 * ENDPOINTS; i++, nanos = nanos * 3 / 2 % 20_000_000 + 50_000) {
                    count(route, nanos);
                }
            }
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            registry.close();
            loops.shutdownGracefully(0, 0, TimeUnit.MILLISECONDS).syncUninterruptibly();
        }
    }

    /** The counting of one connection, round-robin over the endpoints (the port's scheduler). */
    @Benchmark
    public boolean connection(Connection state) {
        int n = state.next++;
        return count(state.route, Connection.CONNECT_NANOS[n & (Connection.CONNECT_NANOS.length - 1)]);
    }

    /** The text of {@code GET /metrics}. */
    @Benchmark
    public String scrape(Scrape state) {
        return state.registry.scrape();
    }

    /** The calls the data plane makes for a connection that is admitted, connected and relayed. */
    static boolean count(Route route, long connectNanos) {
        // TcpAcceptHandler.admit and BackendConnector.connectNext, through the data plane's own Admission
        Admission admission = new Admission(route, CLIENT);
        Outcome refused = admission.admit();
        if (refused != null) {
            throw new IllegalStateException("port refused: " + refused);
        }
        Backend backend = admission.next();
        if (backend == null) {
            throw new IllegalStateException("no endpoint: " + admission.refusal());
        }
        PortCounters port = admission.route().counters();
        // BackendConnector's connect listener, TcpAcceptHandler.connected
        backend.connectDone();
        backend.recordEstablished(connectNanos);
        port.record(Outcome.OK);
        // TcpRelayHandler.count, once per read batch on each side
        for (int i = 0; i < BATCHES; i++) {
            backend.counters().addBytes(BATCH_IN, 0);
            port.addBytes(BATCH_IN, 0);
            backend.counters().addBytes(0, BATCH_OUT);
            port.addBytes(0, BATCH_OUT);
        }
        // the backend side's and then the client side's relay, closing
        backend.release();
        port.release();
        return true;
    }

    /** A snapshot built as a config load builds it: {@code ports} services of one TCP port each. */
    static ServiceSnapshot snapshot(int ports) throws ConfigException {
        StringBuilder yaml = new StringBuilder("services:\n");
        for (int p = 0; p < ports; p++) {
            yaml.append("  - name: bench/svc-").append(p).append('\n')
                    .append("    ports:\n")
                    .append("      - name: http\n")
                    .append("        listen: [\"127.0.0.1:").append(10_000 + p).append("\"]\n")
                    .append("        endpoints: [");
            for (int e = 0; e < ENDPOINTS; e++) {
                // 10.0.p.(e+1):8080, like pod IPs behind one service
                yaml.append(e == 0 ? "" : ", ").append("\"10.0.").append(p).append('.').append(e + 1).append(":8080\"");
            }
            yaml.append("]\n");
        }
        return ServiceSnapshot.build(ConfigLoader.parse("connection-counting-benchmark.yaml", yaml.toString()).services(),
                ServiceSnapshot.empty());
    }
}

package dev.l4lb.bench;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumSet;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
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
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

import dev.l4lb.core.health.HealthListener;
import dev.l4lb.core.model.Endpoint;
import dev.l4lb.core.model.HealthCheck;
import dev.l4lb.core.model.HealthPolicy;
import dev.l4lb.core.model.OutlierDetection;
import dev.l4lb.core.model.PortPolicy;
import dev.l4lb.core.model.Protocol;
import dev.l4lb.core.model.Service;
import dev.l4lb.core.model.ServicePort;
import dev.l4lb.core.sched.Backend;
import dev.l4lb.core.sched.Scheduler;
import dev.l4lb.core.model.SchedulerType;
import dev.l4lb.core.sched.Schedulers;
import dev.l4lb.core.table.Route;
import dev.l4lb.core.table.ServiceSnapshot;

/**
 * One {@link Scheduler#pick} per operation for every {@link SchedulerType} side by side, over 3 to
 * 1,000 endpoints, on one thread and on four threads sharing the scheduler (on a 2-core machine
 * the four-thread time per operation includes time-slicing, not only contention). The load-aware
 * schedulers ({@link #LOAD_AWARE}) also open and close a connection per operation, as the data
 * plane does, so their counts and indexes move; the time includes that claim and release. With
 * {@code health=on} the port has an active check and outlier detection, every endpoint up, in a
 * snapshot put in service as the data plane does: what health costs a pick while nothing is
 * wrong (issue #17 allows 10%). Run with
 * {@code java -jar bench/jmh/target/benchmarks.jar SchedulerBenchmark -prof gc}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class SchedulerBenchmark {
    /** Distinct clients, cycled through: enough that the hashing schedulers' slots are not all cached. */
    static final int CLIENTS = 1 << 12;
    /** One client in this many is IPv6 (its hashCode folds 16 bytes), the rest IPv4. */
    static final int IPV6_EVERY = 16;
    /**
     * Connections each thread holds open: each operation opens one on the endpoint just picked
     * and closes the one it opened this many operations earlier.
     */
    static final int OPEN_PER_THREAD = 1 << 10;
    /** The schedulers whose pick reads the active counts; only they pay for opening and closing. */
    static final Set<SchedulerType> LOAD_AWARE =
            EnumSet.of(SchedulerType.LC, SchedulerType.WLC, SchedulerType.SED, SchedulerType.NQ, SchedulerType.P2C);

    @Param
    SchedulerType scheduler;

    @Param({"3", "100", "1000"})
    int endpoints;

    /** {@code off}: the scheduler on its own; {@code on}: its port under a health policy, all endpoints up. */
    @Param({"off", "on"})
    String health;

    Scheduler picker;
    boolean loadAware;
    /** Distinct client addresses in random order. */
    InetAddress[] clients;

    /** One thread's position in the clients and the connections it holds open, in opening order. */
    @State(Scope.Thread)
    public static class Connections {
        int client;
        final Backend[] open = new Backend[OPEN_PER_THREAD];
        int oldest;

        /** Each thread starts at a client of its own, with its connections already open. */
        @Setup(Level.Trial)
        public void open(SchedulerBenchmark bench) {
            client = (int) (Thread.currentThread().getId() * 977) & (CLIENTS - 1); // threads start apart
            for (int i = 0; i < OPEN_PER_THREAD; i++) {
                Backend picked = bench.picker.pick(bench.clients[client++ & (CLIENTS - 1)]);
                if (picked == null || !picked.tryAcquire()) {
                    throw new IllegalStateException(bench.scheduler + " picked no endpoint with room");
                }
                open[i] = picked;
            }
        }

        @TearDown(Level.Trial)
        public void closeAll() {
            for (Backend backend : open) {
                backend.release();
            }
        }

        /**
         * The data plane's part of one connection: the pick for the next client and, for the
         * load-aware schedulers, the claim on the endpoint picked and the close of the oldest.
         */
        Backend connect(Scheduler picker, InetAddress[] clients, boolean loadAware) {
            Backend picked = picker.pick(clients[client++ & (CLIENTS - 1)]);
            if (loadAware && picked.tryAcquire()) {
                int slot = oldest;
                Backend closing = open[slot];
                open[slot] = picked;
                oldest = (slot + 1) & (OPEN_PER_THREAD - 1);
                closing.release();
            }
            return picked;
        }
    }

    @Setup(Level.Trial)
    public void setUp() throws UnknownHostException {
        picker = health.equals("on") ? healthChecked(scheduler, backends(endpoints)) : Schedulers.create(scheduler, backends(endpoints));
        loadAware = LOAD_AWARE.contains(scheduler);
        clients = distinctClients(CLIENTS, new Random(42));
    }

    /** One thread picking: the cost of the decision itself. */
    @Benchmark
    public Backend pick(Connections connections) {
        return connections.connect(picker, clients, loadAware);
    }

    /** Four threads picking from the same scheduler at once, as four event loops would. */
    @Benchmark
    @Threads(4)
    public Backend pickContended(Connections connections) {
        return connections.connect(picker, clients, loadAware);
    }

    /**
     * The scheduler of a port over the same endpoints with a TCP check and outlier detection, from
     * a snapshot activated as the data plane activates it (so each endpoint's health is attached).
     */
    static Scheduler healthChecked(SchedulerType type, List<Backend> backends) {
        PortPolicy d = PortPolicy.defaults();
        PortPolicy policy = new PortPolicy(type, d.sessionAffinity(), d.sessionAffinityTimeoutSeconds(),
                d.sessionAffinityMaxEntries(), d.proxyProtocol(), false, d.acceptProxyProtocol(), List.of(),
                d.connectTimeout(), d.idleTimeout(), 0);
        HealthPolicy health = new HealthPolicy(Optional.of(HealthCheck.tcpDefaults()),
                Optional.of(new OutlierDetection(OutlierDetection.DEFAULT_CONSECUTIVE_CONNECT_FAILURES,
                        OutlierDetection.DEFAULT_BASE_EJECTION_TIME, OutlierDetection.DEFAULT_MAX_EJECTION_TIME,
                        OutlierDetection.DEFAULT_MAX_EJECTION_PERCENT)), true);
        ServicePort port = new ServicePort("bench", Protocol.TCP, List.of(new InetSocketAddress(8080)), 8080, policy,
                backends.stream().map(Backend::endpoint).toList()).withHealth(health);
        ServiceSnapshot snapshot = ServiceSnapshot.build(List.of(new Service("bench", "pick", List.of(port))),
                ServiceSnapshot.empty());
        snapshot.activate(HealthListener.NONE);
        Route route = snapshot.routes().get(0);
        if (route.health().members().size() != backends.size() || !route.backends().stream().allMatch(Backend::inService)) {
            throw new IllegalStateException("health not attached to every endpoint: " + route.health().members());
        }
        return route.scheduler();
    }

    /**
     * {@code count} backends on 10.0.x.y:8080 like pod IPs, weights 1, 2, 3 in turn so that wrr,
     * wlc, sed, nq, p2c and random do not reduce to their unweighted forms.
     */
    static List<Backend> backends(int count) throws UnknownHostException {
        List<Backend> backends = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            int host = i + 1;
            byte[] ip = {10, (byte) (host >>> 16), (byte) (host >>> 8), (byte) host};
            Endpoint endpoint = Endpoint.of(new InetSocketAddress(InetAddress.getByAddress(ip), 8080))
                    .withWeight(1 + i % 3);
            backends.add(Backend.of(endpoint));
        }
        return backends;
    }

    /** {@code count} distinct clients in random order: public-looking IPv4, one in {@value #IPV6_EVERY} IPv6. */
    static InetAddress[] distinctClients(int count, Random random) throws UnknownHostException {
        Set<InetAddress> seen = new HashSet<>();
        List<InetAddress> list = new ArrayList<>(count);
        while (list.size() < count) {
            byte[] ip;
            if (list.size() % IPV6_EVERY == IPV6_EVERY - 1) {
                ip = new byte[16];
                random.nextBytes(ip);
                ip[0] = 0x20; // 2000::/3, global unicast
                ip[1] = 0x01;
            } else {
                ip = new byte[] {(byte) (1 + random.nextInt(223)), (byte) random.nextInt(256),
                        (byte) random.nextInt(256), (byte) (1 + random.nextInt(254))};
            }
            InetAddress candidate = InetAddress.getByAddress(ip);
            if (seen.add(candidate)) {
                list.add(candidate);
            }
        }
        Collections.shuffle(list, random); // the IPv6 clients at no regular stride
        return list.toArray(new InetAddress[0]);
    }
}

package dev.l4lb.bench;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.List;
import java.util.Random;
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

import dev.l4lb.core.affinity.AffinityTable;
import dev.l4lb.core.affinity.ClientIpAffinity;
import dev.l4lb.core.model.PortPolicy;
import dev.l4lb.core.sched.Backend;
import dev.l4lb.core.model.SchedulerType;
import dev.l4lb.core.sched.Schedulers;

/**
 * A ClientIP pick ({@link ClientIpAffinity} over rr) for a client the table holds ({@code hit}),
 * and for a client it does not ({@code miss}: rr picks and the table inserts, evicting past its
 * bound), over 3 to 1,000 endpoints. A hit must allocate nothing; a miss allocates the new entry.
 * Run with {@code java -jar bench/jmh/target/benchmarks.jar ClientIpAffinityBenchmark -prof gc}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class ClientIpAffinityBenchmark {
    /** Clients a hit cycles through, all held, in a table of the default bound and timeout. */
    static final int HELD_CLIENTS = SchedulerBenchmark.CLIENTS;
    /**
     * Clients a miss cycles through, 64 times the table's bound: a client comes back only after
     * 65,535 others, so at most 1 in 64 picks could find it still held (a table entry is
     * evicted or refused admission long before).
     */
    static final int FRESH_CLIENTS = 1 << 16;
    static final int FRESH_TABLE_BOUND = FRESH_CLIENTS / 64;
    private static final Duration TIMEOUT = Duration.ofSeconds(PortPolicy.DEFAULT_AFFINITY_TIMEOUT_SECONDS);

    @Param({"3", "100", "1000"})
    int endpoints;

    /** Every client already has its endpoint in the table. */
    @State(Scope.Benchmark)
    public static class Held {
        ClientIpAffinity affinity;
        InetAddress[] clients;

        @Setup(Level.Trial)
        public void fill(ClientIpAffinityBenchmark bench) throws UnknownHostException {
            clients = SchedulerBenchmark.distinctClients(HELD_CLIENTS, new Random(7));
            affinity = bench.affinity(new AffinityTable(TIMEOUT, PortPolicy.DEFAULT_AFFINITY_MAX_ENTRIES));
            Backend[] first = new Backend[clients.length];
            for (int i = 0; i < clients.length; i++) {
                first[i] = affinity.pick(clients[i]);
            }
            for (int i = 0; i < clients.length; i++) {
                if (affinity.pick(clients[i]) != first[i]) {
                    throw new IllegalStateException(clients[i] + " is not held by the table");
                }
            }
        }
    }

    /** Clients the table has not seen for a long time, in a table too small to keep them. */
    @State(Scope.Benchmark)
    public static class Fresh {
        ClientIpAffinity affinity;
        InetAddress[] clients;

        @Setup(Level.Trial)
        public void create(ClientIpAffinityBenchmark bench) throws UnknownHostException {
            clients = SchedulerBenchmark.distinctClients(FRESH_CLIENTS, new Random(11));
            affinity = bench.affinity(new AffinityTable(TIMEOUT, FRESH_TABLE_BOUND));
        }

        @TearDown(Level.Trial)
        public void check() {
            AffinityTable table = affinity.table();
            if (table.evictions() == 0 || table.size() > FRESH_TABLE_BOUND + FRESH_TABLE_BOUND / 2) {
                throw new IllegalStateException("misses did not evict: size " + table.size()
                        + ", evictions " + table.evictions());
            }
        }
    }

    /** Each benchmark thread walks the clients on its own. */
    @State(Scope.Thread)
    public static class Cursor {
        int index;
    }

    private List<Backend> backends;

    @Setup(Level.Trial)
    public void setUp() throws UnknownHostException {
        backends = SchedulerBenchmark.backends(endpoints);
    }

    ClientIpAffinity affinity(AffinityTable table) {
        return new ClientIpAffinity(Schedulers.create(SchedulerType.RR, backends), backends, table);
    }

    /** A client that connected before: the table's endpoint, looked up and checked. */
    @Benchmark
    public Backend hit(Held held, Cursor cursor) {
        return held.affinity.pick(held.clients[cursor.index++ & (HELD_CLIENTS - 1)]);
    }

    /** A new client: the table misses, rr picks, the table inserts (and evicts another). */
    @Benchmark
    public Backend miss(Fresh fresh, Cursor cursor) {
        return fresh.affinity.pick(fresh.clients[cursor.index++ & (FRESH_CLIENTS - 1)]);
    }
}

package dev.l4lb.bench;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

import org.jspecify.annotations.Nullable;

import dev.l4lb.core.limits.ClientKey;
import dev.l4lb.core.limits.ClientRefusal;
import dev.l4lb.core.limits.ClientTable;
import dev.l4lb.core.limits.StripedClientTable;
import dev.l4lb.core.model.ClientLimits;
import dev.l4lb.core.model.Rate;

/**
 * The admission and release of a client the table already tracks, one pair per operation, for
 * both client tables side by side ({@link Competitor}), among 1,000 and 1,000,000 tracked
 * clients, IPv4 and IPv6 (a /64 each). The target of issue #18: at most 50 ns and 0 B per
 * operation. Both limits are on (maxConnectionsPerClient and a rate set high enough never to
 * refuse), so each operation takes the whole path. The data plane's Admission adds one
 * {@link System#nanoTime} per new connection, measured apart by {@link #clockOnly}. Run with
 * {@code java -jar bench/jmh/target/benchmarks.jar ClientLimit -prof gc}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class ClientLimitBenchmark {
    /** Known clients cycled through, in random order: more than the caches hold at 1,000,000. */
    static final int PROBES = 1 << 14;

    /** The two implementations of the one interface; the product uses STRIPED. */
    public enum Competitor {
        STRIPED(StripedClientTable::new),
        CAFFEINE(CaffeineClientTable::new);

        final Function<ClientLimits, ClientTable> create;

        Competitor(Function<ClientLimits, ClientTable> create) {
            this.create = create;
        }
    }

    @Param
    Competitor competitor;

    @Param({"1000", "1000000"})
    int clients;

    @Param({"v4", "v6"})
    String family;

    ClientTable table;
    ClientKey key;
    InetAddress[] probes;
    int next;
    long now;

    @Setup
    public void setUp() throws UnknownHostException {
        ClientLimits limits = new ClientLimits(100, new Rate(1_000_000, TimeUnit.SECONDS), null, clients, 64);
        table = competitor.create.apply(limits);
        key = new ClientKey(limits.clientPrefixV6());
        now = System.nanoTime();
        for (int i = 0; i < clients; i++) {
            InetAddress client = address(i);
            admitAndRelease(client);
        }
        Random random = new Random(18);
        probes = new InetAddress[PROBES];
        for (int i = 0; i < PROBES; i++) {
            probes[i] = address(random.nextInt(clients));
        }
    }

    @Benchmark
    public @Nullable ClientRefusal admitAndRelease() {
        return admitAndRelease(probes[next++ & (PROBES - 1)]);
    }

    /** As Admission does it: the key taken once (an IPv6 address copied once), kept for the release. */
    private @Nullable ClientRefusal admitAndRelease(InetAddress client) {
        long high;
        long low;
        if (ClientKey.isV4(client)) {
            high = 0;
            low = ClientKey.v4Low(client);
        } else {
            byte[] bytes = client.getAddress();
            high = key.high(bytes);
            low = key.low(bytes);
        }
        // A fresh time each operation, as each connection has, without paying for the clock here.
        ClientRefusal refused = table.admit(high, low, now += 1_000);
        if (refused == null) {
            table.release(high, low);
        }
        return refused;
    }

    /** What Admission's one clock read per new connection costs on this machine. */
    @Benchmark
    public long clockOnly() {
        return System.nanoTime();
    }

    /** Client {@code i}: 10.x.y.z, or for v6 a host in the i-th /64 of 2001:db8::/32 (its own low bits random). */
    private InetAddress address(int i) throws UnknownHostException {
        if (family.equals("v4")) {
            return InetAddress.getByAddress(new byte[] {10, (byte) (i >>> 16), (byte) (i >>> 8), (byte) i});
        }
        byte[] v6 = new byte[16];
        v6[0] = 0x20;
        v6[1] = 0x01;
        v6[2] = 0x0d;
        v6[3] = (byte) 0xb8;
        v6[5] = (byte) (i >>> 16);
        v6[6] = (byte) (i >>> 8);
        v6[7] = (byte) i;
        v6[15] = (byte) (i * 31 + 7);
        return InetAddress.getByAddress(v6);
    }
}

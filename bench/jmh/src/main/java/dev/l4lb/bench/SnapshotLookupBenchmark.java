package dev.l4lb.bench;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
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
import org.openjdk.jmh.annotations.Warmup;

import dev.l4lb.core.model.Endpoint;
import dev.l4lb.core.model.PortPolicy;
import dev.l4lb.core.model.Protocol;
import dev.l4lb.core.model.Service;
import dev.l4lb.core.model.ServicePort;
import dev.l4lb.core.sched.Backend;
import dev.l4lb.core.table.Route;
import dev.l4lb.core.table.ServiceSnapshot;

/**
 * The per-connection routing work of the TCP data plane, {@link ServiceSnapshot#lookupTcp} alone
 * and followed by the scheduler's pick, over snapshots of 10 to 10,000 services; run with
 * {@code java -jar bench/jmh/target/benchmarks.jar SnapshotLookup -prof gc}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class SnapshotLookupBenchmark {
    /** Enough keys that the order is unpredictable to the branch predictor even for 10 services. */
    private static final int MIN_KEYS = 1 << 12;
    /** One service in this many listens on IPv6 loopback, the rest on 127/8. */
    private static final int IPV6_EVERY = 16;
    private static final int ENDPOINTS_PER_SERVICE = 3;

    @Param({"10", "1000", "10000"})
    int services;

    ServiceSnapshot snapshot;
    /** Listener keys in random order, each an equal but distinct instance of a configured listener. */
    InetSocketAddress[] keys;
    int mask;
    InetAddress client;

    /** Each benchmark thread walks the keys on its own, so threads never share a counter. */
    @State(Scope.Thread)
    public static class Cursor {
        int index;
    }

    @Setup(Level.Trial)
    public void setUp() throws UnknownHostException {
        Random random = new Random(42);
        List<InetSocketAddress> configured = distinctListeners(services, random);

        List<Service> list = new ArrayList<>(services);
        for (int i = 0; i < services; i++) {
            List<Endpoint> endpoints = new ArrayList<>(ENDPOINTS_PER_SERVICE);
            for (int e = 0; e < ENDPOINTS_PER_SERVICE; e++) {
                // 10.(i/256).(i%256).(e+1):8080, like pod IPs behind one service.
                byte[] ip = {10, (byte) (i >>> 8), (byte) i, (byte) (e + 1)};
                endpoints.add(Endpoint.of(new InetSocketAddress(InetAddress.getByAddress(ip), 8080)));
            }
            ServicePort port = new ServicePort("", Protocol.TCP, List.of(configured.get(i)), 8080,
                    PortPolicy.defaults(), endpoints);
            list.add(new Service("default", "svc-" + i, List.of(port)));
        }
        snapshot = ServiceSnapshot.build(list, ServiceSnapshot.empty());

        // What each listener handler would hold: its own instance, built apart from the config's,
        // so a lookup pays for hashCode and equals rather than a reference comparison.
        InetSocketAddress[] held = new InetSocketAddress[services];
        for (int i = 0; i < services; i++) {
            InetSocketAddress c = configured.get(i);
            held[i] = new InetSocketAddress(InetAddress.getByAddress(c.getAddress().getAddress()), c.getPort());
            if (held[i] == c || held[i].getAddress() == c.getAddress() || !held[i].equals(c)) {
                throw new IllegalStateException("lookup key must be equal to, not the same as, " + c);
            }
        }

        int size = Integer.highestOneBit(Math.max(MIN_KEYS, services) * 2 - 1); // next power of two
        List<InetSocketAddress> order = new ArrayList<>(size);
        for (int i = 0; i < size; i++) {
            order.add(held[i % services]); // every listener appears, all about equally often
        }
        Collections.shuffle(order, random);
        keys = order.toArray(new InetSocketAddress[0]);
        mask = size - 1;

        client = InetAddress.getByAddress(new byte[] {(byte) 192, (byte) 168, 7, 42});
        for (InetSocketAddress key : keys) {
            if (snapshot.lookupTcp(key) == null) {
                throw new IllegalStateException("no route for " + key);
            }
        }
    }

    /** The map lookup a listener handler does for each accepted connection. */
    @Benchmark
    public Route lookup(Cursor cursor) {
        return snapshot.lookupTcp(keys[cursor.index++ & mask]);
    }

    /** Lookup, then the round-robin pick of the endpoint: the whole routing decision per connection. */
    @Benchmark
    public Backend lookupAndPick(Cursor cursor) {
        Route route = snapshot.lookupTcp(keys[cursor.index++ & mask]);
        return route.scheduler().pick(client);
    }

    /**
     * {@code count} distinct listeners: IPv4 on random 127.a.b.c addresses, every
     * {@value #IPV6_EVERY}th on {@code [::1]}, each on a random unprivileged port.
     */
    private static List<InetSocketAddress> distinctListeners(int count, Random random) throws UnknownHostException {
        InetAddress ipv6Loopback = InetAddress.getByName("::1"); // a literal: parsed, never resolved
        Set<InetSocketAddress> seen = new HashSet<>();
        List<InetSocketAddress> listeners = new ArrayList<>(count);
        while (listeners.size() < count) {
            int port = 1024 + random.nextInt(65536 - 1024);
            InetSocketAddress candidate;
            if (listeners.size() % IPV6_EVERY == IPV6_EVERY - 1) {
                candidate = new InetSocketAddress(ipv6Loopback, port);
            } else {
                byte[] ip = {127, (byte) random.nextInt(256), (byte) random.nextInt(256), (byte) (1 + random.nextInt(254))};
                candidate = new InetSocketAddress(InetAddress.getByAddress(ip), port);
            }
            if (seen.add(candidate)) {
                listeners.add(candidate);
            }
        }
        return listeners;
    }
}

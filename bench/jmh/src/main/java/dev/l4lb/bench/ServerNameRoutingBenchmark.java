package dev.l4lb.bench;

import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

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

import dev.l4lb.core.model.Endpoint;
import dev.l4lb.core.model.PortPolicy;
import dev.l4lb.core.model.Protocol;
import dev.l4lb.core.model.ServerNames;
import dev.l4lb.core.model.Service;
import dev.l4lb.core.model.ServicePort;
import dev.l4lb.core.table.Route;
import dev.l4lb.core.table.ServerNameRoutes;
import dev.l4lb.core.table.ServiceSnapshot;

/**
 * One lookup of a ClientHello's server name per operation on a listener shared by {@code names}
 * server names (half exact, half one-label wildcards, over up to ten ports, plus a {@code *} port): an
 * exact hit, a wildcard hit (the exact table misses first) and a name nothing lists, which falls
 * to {@code *} after both tables miss. The names looked up are made in setup, as the data plane
 * gets them from the parser; a lookup itself should allocate nothing. Run with
 * {@code java -jar bench/jmh/target/benchmarks.jar ServerNameRouting -prof gc}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class ServerNameRoutingBenchmark {
    /** Names looked up, cycled through: more than a few, so the branch predictor cannot learn one. */
    static final int LOOKUPS = 1 << 10;
    static final int PORTS = 10;

    @Param({"10", "10000"})
    int names;

    private ServerNameRoutes routes;
    private final String[] exact = new String[LOOKUPS];
    private final String[] wildcard = new String[LOOKUPS];
    private final String[] miss = new String[LOOKUPS];
    private int next;

    @Setup
    public void build() {
        InetSocketAddress listener = new InetSocketAddress("127.0.0.1", 443);
        int half = Math.max(1, names / 2);
        int portCount = Math.min(PORTS, half); // every port has a name: one without is not routed by name
        List<List<String>> perPort = new ArrayList<>();
        for (int p = 0; p < portCount; p++) {
            perPort.add(new ArrayList<>());
        }
        for (int i = 0; i < half; i++) {
            perPort.get(i % portCount).add("host" + i + ".example");
            perPort.get(i % portCount).add("*.zone" + i + ".example");
        }
        List<ServicePort> ports = new ArrayList<>();
        for (int p = 0; p < portCount; p++) {
            ports.add(port("p" + p, listener, perPort.get(p)));
        }
        ports.add(port("any", listener, List.of(ServerNames.ANY)));
        ServiceSnapshot snapshot = ServiceSnapshot.build(List.of(new Service("bench", "tls", ports)), ServiceSnapshot.empty());
        routes = snapshot.lookupServerNames(listener);
        for (int i = 0; i < LOOKUPS; i++) {
            int n = (int) ((i * 2654435761L) % half);
            exact[i] = "host" + n + ".example";
            wildcard[i] = "www.zone" + n + ".example";
            miss[i] = "host" + n + ".example.org";
        }
        check(routes.lookup(exact[1]), "p" + (int) ((2654435761L % half) % portCount));
        check(routes.lookup(miss[1]), "any");
    }

    private static ServicePort port(String name, InetSocketAddress listener, List<String> names) {
        return new ServicePort(name, Protocol.TCP, List.of(listener), 0, PortPolicy.defaults(),
                List.of(Endpoint.of(new InetSocketAddress("10.0.0.1", 8443))))
                .withServerNames(new ServerNames(names, ServerNames.DEFAULT_CLIENT_HELLO_TIMEOUT));
    }

    private static void check(Route route, String port) {
        if (route == null || !route.port().name().equals(port)) {
            throw new IllegalStateException("expected port " + port + ", got " + (route == null ? null : route.port().name()));
        }
    }

    private int nextIndex() {
        return next = (next + 1) & (LOOKUPS - 1);
    }

    @Benchmark
    public Route exactHit() {
        return routes.lookup(exact[nextIndex()]);
    }

    @Benchmark
    public Route wildcardHit() {
        return routes.lookup(wildcard[nextIndex()]);
    }

    @Benchmark
    public Route missToStar() {
        return routes.lookup(miss[nextIndex()]);
    }
}

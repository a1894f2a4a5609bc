package dev.l4lb.bench;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

import dev.l4lb.core.model.Addresses;
import dev.l4lb.core.model.Cidr;
import dev.l4lb.core.model.Endpoint;
import dev.l4lb.core.model.PortPolicy;
import dev.l4lb.core.model.Protocol;
import dev.l4lb.core.model.Service;
import dev.l4lb.core.model.ServicePort;
import dev.l4lb.core.model.ShortCircuit;
import dev.l4lb.core.table.Route;
import dev.l4lb.core.table.ServiceSnapshot;

/**
 * The per-client checks of admission on an externalTrafficPolicy Local node port: the source
 * ranges ({@link PortPolicy#allowsSource}) and the hand-over of node and pod clients to the port
 * with every endpoint ({@link Route#forClient}), for an IPv4 client from outside and one from a pod
 * CIDR; run with {@code java -jar bench/jmh/target/benchmarks.jar ClientRouting -prof gc}, where
 * {@code gc.alloc.rate.norm} must be 0.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class ClientRoutingBenchmark {
    Route external;
    PortPolicy ranges;
    InetAddress outside;
    InetAddress pod;

    @Setup
    public void setUp() {
        InetAddress node = ip("192.0.2.10");
        Endpoint endpoint = Endpoint.of(new InetSocketAddress(ip("10.244.1.5"), 8080));
        ServicePort everyone = new ServicePort("http", Protocol.TCP, List.of(new InetSocketAddress(node, 40000)), 0,
                PortPolicy.defaults(), List.of(endpoint));
        ServicePort local = new ServicePort("http/external", Protocol.TCP, List.of(new InetSocketAddress(node, 30080)), 0,
                PortPolicy.defaults(), List.of(), List.of(), Optional.of(new ShortCircuit("http",
                        Set.of(node, ip("127.0.0.1"), ip("10.0.0.10")),
                        List.of(Cidr.parse("10.244.0.0/16").orElseThrow(), Cidr.parse("fd00:10:244::/56").orElseThrow()))));
        ServiceSnapshot snapshot = ServiceSnapshot.build(List.of(new Service("shop", "web", List.of(everyone, local))),
                ServiceSnapshot.empty());
        external = snapshot.lookupTcp(new InetSocketAddress(node, 30080));
        PortPolicy d = PortPolicy.defaults();
        ranges = new PortPolicy(d.scheduler(), d.sessionAffinity(), d.sessionAffinityTimeoutSeconds(), d.sessionAffinityMaxEntries(),
                d.proxyProtocol(), d.proxyProtocolUniqueId(), d.acceptProxyProtocol(),
                List.of(Cidr.parse("203.0.113.0/24").orElseThrow(), Cidr.parse("198.51.100.0/22").orElseThrow()),
                d.connectTimeout(), d.idleTimeout(), d.maxConnections());
        outside = ip("198.51.102.7");
        pod = ip("10.244.3.7");
    }

    @Benchmark
    public boolean sourceRanges() {
        return ranges.allowsSource(outside);
    }

    @Benchmark
    public Route forClientFromOutside() {
        return external.forClient(outside);
    }

    @Benchmark
    public Route forClientFromAPod() {
        return external.forClient(pod);
    }

    private static InetAddress ip(String text) {
        return Addresses.parseIp(text).orElseThrow();
    }
}

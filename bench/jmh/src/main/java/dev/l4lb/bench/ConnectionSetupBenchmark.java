package dev.l4lb.bench;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
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
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import dev.l4lb.core.config.BalancerConfig;
import dev.l4lb.core.config.ConfigException;
import dev.l4lb.core.config.ConfigLoader;
import dev.l4lb.core.model.Addresses;
import dev.l4lb.netty.Balancer;
import dev.l4lb.netty.transport.BindFailure;
import dev.l4lb.netty.transport.Transport;
import dev.l4lb.netty.echo.EchoServer;

/**
 * What one proxied connection costs the relay: connect, one byte there and back, close, on
 * loopback, straight to an echo backend ({@code DIRECT}) and through l4lb on each transport, side
 * by side in one run. The difference to {@code DIRECT} is the balancer's setup and teardown (an
 * accept, a pick, a backend connect, two pipelines); {@code -prof gc} adds the bytes every thread
 * of this JVM allocated per connection, the balancer's event loop included. Run with
 * {@code java -jar bench/jmh/target/benchmarks.jar ConnectionSetup -prof gc}.
 *
 * <p>This is the per-connection cost in isolation from the network namespaces of the end-to-end
 * bench (bench/e2e/run); both ends share the two cores, so compare the rows, not absolute times.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class ConnectionSetupBenchmark {
    /** The competitors, one run comparing them (the pattern of Caffeine's CacheType). */
    public enum Path {
        DIRECT(null), L4LB_EPOLL("epoll"), L4LB_IO_URING("io_uring"), L4LB_NIO("nio");

        final String transport;

        Path(String transport) {
            this.transport = transport;
        }
    }

    /** Not an HTTP method's first byte, so the echo backend echoes it as is. */
    private static final int PING = 'x';

    @Param
    Path path;

    private EchoServer backend;
    private Balancer balancer;
    private InetSocketAddress target;

    @Setup
    public void start() throws BindFailure, ConfigException, IOException {
        InetAddress loopback = InetAddress.getLoopbackAddress();
        backend = EchoServer.start(List.of(new InetSocketAddress(loopback, 0)), Transport.select("auto"), 1);
        InetSocketAddress echo = backend.addresses().get(0);
        if (path.transport == null) {
            target = echo;
            return;
        }
        InetSocketAddress listen = new InetSocketAddress(loopback, freePort());
        BalancerConfig config = ConfigLoader.parse("connection-setup-benchmark.yaml", """
                services:
                  - name: bench/echo
                    ports:
                      - name: tcp
                        listen: ["%s"]
                        endpoints: ["%s"]
                """.formatted(Addresses.format(listen), Addresses.format(echo)));
        balancer = Balancer.start(config, Transport.select(path.transport), 1);
        target = listen;
    }

    @TearDown
    public void stop() {
        if (balancer != null) {
            balancer.close();
        }
        backend.close();
    }

    @Benchmark
    public int connectEchoClose() throws IOException {
        try (Socket socket = new Socket()) {
            socket.setTcpNoDelay(true);
            socket.connect(target);
            socket.getOutputStream().write(PING);
            InputStream in = socket.getInputStream();
            int echoed = in.read();
            if (echoed != PING) {
                throw new IOException("expected the byte back, read " + echoed);
            }
            return echoed;
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket probe = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return probe.getLocalPort();
        }
    }
}

package dev.l4lb.bench;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.security.GeneralSecurityException;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLParameters;

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
 * <p>{@code -p firstBytes=CLIENT_HELLO} sends a TLS ClientHello for {@code shop.example} (as Java's
 * TLS stack writes it) instead of one byte, to a listener that three ports share by server name:
 * its l4lb rows less those of {@code PING} are what reading the hello and routing by its name
 * cost per connection (the DIRECT row moves too, by the larger echo).
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

    /** What the client sends first, and the listener it goes to. */
    public enum FirstBytes {
        /** One byte to a port of its own. */
        PING,
        /** A ClientHello to a listener routed by server name (exact, wildcard and {@code *} ports on it). */
        CLIENT_HELLO
    }

    /** Not an HTTP method's first byte, so the echo backend echoes it as is. */
    private static final int PING = 'x';

    @Param
    Path path;

    @Param("PING")
    FirstBytes firstBytes;

    private byte[] sent;
    private byte[] echoed;

    private EchoServer backend;
    private Balancer balancer;
    private InetSocketAddress target;

    @Setup
    public void start() throws BindFailure, ConfigException, IOException, GeneralSecurityException {
        sent = firstBytes == FirstBytes.PING ? new byte[] {PING} : clientHello("shop.example");
        echoed = new byte[sent.length];
        InetAddress loopback = InetAddress.getLoopbackAddress();
        backend = EchoServer.start(List.of(new InetSocketAddress(loopback, 0)), Transport.select("auto"), 1);
        InetSocketAddress echo = backend.addresses().get(0);
        if (path.transport == null) {
            target = echo;
            return;
        }
        InetSocketAddress listen = new InetSocketAddress(loopback, freePort());
        String yaml = firstBytes == FirstBytes.PING ? """
                services:
                  - name: bench/echo
                    ports:
                      - name: tcp
                        listen: ["%1$s"]
                        endpoints: ["%2$s"]
                """ : """
                services:
                  - name: bench/echo
                    ports:
                      - name: shop
                        listen: ["%1$s"]
                        serverNames: ["shop.example", "*.shop.example"]
                        endpoints: ["%2$s"]
                      - name: blog
                        listen: ["%1$s"]
                        serverNames: ["blog.example"]
                        endpoints: ["%2$s"]
                      - name: other
                        listen: ["%1$s"]
                        serverNames: ["*"]
                        endpoints: ["%2$s"]
                """;
        BalancerConfig config = ConfigLoader.parse("connection-setup-benchmark.yaml",
                yaml.formatted(Addresses.format(listen), Addresses.format(echo)));
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
            socket.getOutputStream().write(sent);
            InputStream in = socket.getInputStream();
            int read = in.readNBytes(echoed, 0, echoed.length);
            if (read != sent.length || !Arrays.equals(echoed, sent)) {
                throw new IOException("expected the " + sent.length + " bytes sent back, read " + read);
            }
            return read;
        }
    }

    /** The first flight of a client SSLEngine naming {@code serverName}: its ClientHello record. */
    private static byte[] clientHello(String serverName) throws GeneralSecurityException, IOException {
        SSLEngine engine = SSLContext.getDefault().createSSLEngine(serverName, 443);
        engine.setUseClientMode(true);
        SSLParameters parameters = engine.getSSLParameters();
        parameters.setServerNames(List.of(new SNIHostName(serverName)));
        engine.setSSLParameters(parameters);
        ByteBuffer out = ByteBuffer.allocate(engine.getSession().getPacketBufferSize());
        engine.wrap(ByteBuffer.allocate(0), out);
        out.flip();
        byte[] hello = new byte[out.remaining()];
        out.get(hello);
        return hello;
    }

    private static int freePort() throws IOException {
        try (ServerSocket probe = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return probe.getLocalPort();
        }
    }
}

package dev.l4lb.netty.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.HdrHistogram.Histogram;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.l4lb.core.model.Addresses;
import dev.l4lb.netty.testing.AdminHttp;
import dev.l4lb.netty.testing.Configs;
import dev.l4lb.netty.testing.Ports;
import dev.l4lb.netty.testing.Sockets;

/**
 * Issue 15's idle flood, on the jar as users run it: 20,000 proxied connections that each
 * exchange one byte and then sit idle, while fresh connections keep being served. It measures
 * what an idle connection costs the balancer (heap and direct memory after a full GC, and RSS,
 * against the same process before the flood) and the latency of the fresh connections meanwhile;
 * it holds that every connection is served. A proxied connection holds two descriptors in the
 * balancer, so the count is what the machine's hard limit on descriptors ({@code ulimit -Hn})
 * allows below the balancer's own cap, up to 20,000 ({@code -Dl4lb.torture.idleConnections}):
 * 8,000 under this machine's 20,000. The balancer and the backend are processes of their own.
 */
class IdleFloodIT {
    private static final Path JAR = Path.of(System.getProperty("l4lb.jar", "target/l4lb.jar"));
    private static final int WANTED = Integer.getInteger("l4lb.torture.idleConnections", 20_000);

    @Test
    void thousandsOfIdleConnectionsAndFreshOnesStillServed(@TempDir Path dir) throws Exception {
        assertThat(JAR).as("the shaded jar built by package").exists();
        int hardLimit = hardFdLimit();
        // Below the balancer's own cap of (limit - a tenth) / 2 connections, so fresh ones are still taken in.
        int idleCount = Math.min(WANTED, hardLimit * 4 / 10);
        Assumptions.assumeTrue(idleCount >= 1000, "the hard descriptor limit (" + hardLimit + ") leaves room for too few");
        InetSocketAddress backendAddress = Ports.loopback(Ports.free());
        InetSocketAddress listen = Ports.loopback(Ports.free());
        InetSocketAddress metrics = Ports.loopback(Ports.free());
        Path config = dir.resolve("l4lb.yaml");
        Files.writeString(config, Configs.tcpFile("torture/idle", listen, List.of(backendAddress), metrics,
                Ports.loopback(Ports.free())));
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process backend = withFds(dir.resolve("backend.log"), java, "-jar", JAR.toString(), "echo-server", "--threads", "1",
                "--listen", Addresses.format(backendAddress));
        Process lb = withFds(dir.resolve("lb.log"), java, "-jar", JAR.toString(), "run", "--config", config.toString(),
                "--shutdown-grace", "0s");
        List<SocketChannel> idle = new ArrayList<>(idleCount);
        try {
            await().atMost(Duration.ofSeconds(60)).until(() -> Files.readString(dir.resolve("lb.log")).contains("admin: metrics"));
            await().atMost(Duration.ofSeconds(60)).ignoreExceptions().until(() -> echoes(listen));
            Histogram before = fresh(listen, 1000); // warms the path up, too
            Memory atStart = memory(lb.pid(), metrics);

            ByteBuffer one = ByteBuffer.allocate(1);
            for (int i = 0; i < idleCount; i++) {
                SocketChannel channel = SocketChannel.open(listen);
                channel.write(ByteBuffer.wrap(new byte[] {7}));
                one.clear();
                assertThat(channel.read(one)).as("connection %d's echo", i).isEqualTo(1);
                idle.add(channel);
            }
            Histogram during = fresh(listen, 1000);
            Memory flooded = memory(lb.pid(), metrics);
            double heapPerConnection = (flooded.heap() - atStart.heap()) / (double) idleCount;
            double directPerConnection = (flooded.direct() - atStart.direct()) / (double) idleCount;
            double rssPerConnection = (flooded.rss() - atStart.rss()) / (double) idleCount;
            assertThat(AdminHttp.get(metrics, "/healthz").statusCode()).isEqualTo(200);
            System.out.printf("idle flood: %d idle proxied connections: per connection %.0f B heap + %.0f B direct"
                            + " (after a full GC), %.0f B RSS; fresh connections before p50 %.2f / p99 %.2f ms, during"
                            + " p50 %.2f / p99 %.2f / max %.2f ms%n", idleCount, heapPerConnection, directPerConnection,
                    rssPerConnection, before.getValueAtPercentile(50) / 1000.0, before.getValueAtPercentile(99) / 1000.0,
                    during.getValueAtPercentile(50) / 1000.0, during.getValueAtPercentile(99) / 1000.0,
                    during.getMaxValue() / 1000.0);
        } finally {
            for (SocketChannel channel : idle) {
                channel.close();
            }
            lb.destroy();
            backend.destroy();
            assertThat(lb.waitFor(30, TimeUnit.SECONDS)).isTrue();
            backend.waitFor(30, TimeUnit.SECONDS);
        }
    }

    private record Memory(long heap, long direct, long rss) {
    }

    /** The balancer's heap and direct memory in use after a full GC, and its RSS. */
    private static Memory memory(long pid, InetSocketAddress metrics) throws Exception {
        Process gc = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "jcmd").toString(),
                Long.toString(pid), "GC.run").redirectErrorStream(true).start();
        gc.getInputStream().readAllBytes();
        assertThat(gc.waitFor(60, TimeUnit.SECONDS)).isTrue();
        String scrape = AdminHttp.get(metrics, "/metrics").body();
        long heap = (long) scrape.lines().filter(l -> l.startsWith("jvm_memory_used_bytes{") && l.contains("area=\"heap\""))
                .mapToDouble(l -> Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1))).sum();
        // The JDK's direct buffers and Netty's pooled direct memory (which the JDK does not count).
        long direct = (long) scrape.lines().filter(l -> l.startsWith("jvm_buffer_memory_used_bytes{") && l.contains("id=\"direct\"")
                        || l.startsWith("netty_allocator_memory_used_bytes{") && l.contains("memory_type=\"direct\""))
                .mapToDouble(l -> Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1))).sum();
        long rssKb = Files.readAllLines(Path.of("/proc", Long.toString(pid), "status")).stream()
                .filter(l -> l.startsWith("VmRSS:")).map(l -> l.replaceAll("\\D", "")).mapToLong(Long::parseLong)
                .findFirst().orElseThrow();
        return new Memory(heap, direct, rssKb * 1024);
    }

    /** {@code count} exchanges, each on a fresh connection; every one must succeed. Latencies in µs. */
    private static Histogram fresh(InetSocketAddress listen, int count) throws IOException {
        Histogram latency = new Histogram(TimeUnit.SECONDS.toMicros(30), 3);
        for (int i = 0; i < count; i++) {
            long start = System.nanoTime();
            echoes(listen);
            latency.recordValue(Math.max(1, TimeUnit.NANOSECONDS.toMicros(System.nanoTime() - start)));
        }
        return latency;
    }

    private static boolean echoes(InetSocketAddress listen) throws IOException {
        try (Socket client = Sockets.connect(listen)) {
            Sockets.assertEchoes(client, "fresh");
        }
        return true;
    }

    /** A process started with as many descriptors as it may have (the JVM raises its soft limit to the hard one too). */
    private static Process withFds(Path log, String... command) throws IOException {
        List<String> full = new ArrayList<>(List.of("bash", "-c", "ulimit -n \"$(ulimit -Hn)\" && exec \"$@\"", "bash"));
        full.addAll(List.of(command));
        return new ProcessBuilder(full).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    }

    /** {@code ulimit -Hn}: what no process here may exceed (raising it needs CAP_SYS_RESOURCE, which this container lacks). */
    private static int hardFdLimit() throws Exception {
        Process ulimit = new ProcessBuilder("bash", "-c", "ulimit -Hn").start();
        String out = new String(ulimit.getInputStream().readAllBytes()).strip();
        assertThat(ulimit.waitFor(10, TimeUnit.SECONDS)).isTrue();
        return out.equals("unlimited") ? Integer.MAX_VALUE / 4 : Integer.parseInt(out);
    }
}

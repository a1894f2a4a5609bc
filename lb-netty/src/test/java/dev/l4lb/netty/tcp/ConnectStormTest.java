package dev.l4lb.netty.tcp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import org.HdrHistogram.Histogram;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.RegisterExtension;

import dev.l4lb.core.model.Addresses;
import dev.l4lb.core.table.Outcome;
import dev.l4lb.core.table.PortCounters;
import dev.l4lb.netty.Balancer;
import dev.l4lb.netty.transport.Transport;
import dev.l4lb.netty.cli.Main;
import dev.l4lb.netty.testing.Closer;
import dev.l4lb.netty.testing.Configs;
import dev.l4lb.netty.testing.NoLeaks;
import dev.l4lb.netty.testing.Ports;
import dev.l4lb.netty.testing.Sockets;

/**
 * Issue 15's connection storm: four threads open and drop connections as fast as they can (half
 * reset at once, half closed politely) for the run ({@code -Dl4lb.torture.stormSeconds=10} for the
 * long form, 3 s here), while one well-behaved client exchanges a message every 5 ms on a fresh
 * connection. What must hold: the well-behaved client is served throughout (every exchange
 * succeeds; its latency is reported), nothing stays open once the storm is over, and the first
 * connection after it is served at once.
 */
@ExtendWith(NoLeaks.class)
class ConnectStormTest {
    private static final Transport TRANSPORT = Transport.select("auto");
    private static final Duration STORM = Duration.ofSeconds(Integer.getInteger("l4lb.torture.stormSeconds", 3));

    @RegisterExtension
    final Closer toClose = new Closer();

    @Test
    void aStormOfConnectionsLeavesOtherClientsServed() throws Exception {
        // The backend is a process of its own, as it would be: in this one, its descriptors would
        // come out of the reserve the balancer's descriptor budget leaves for the JVM.
        InetSocketAddress backendAddress = Ports.loopback(Ports.free());
        Process backend = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), Main.class.getName(), "echo-server", "--threads", "1",
                "--listen", Addresses.format(backendAddress)).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        toClose.add((AutoCloseable) () -> {
            backend.destroy();
            backend.waitFor(30, TimeUnit.SECONDS);
        });
        await().atMost(Duration.ofSeconds(30)).ignoreExceptions().until(() -> {
            new Socket(backendAddress.getAddress(), backendAddress.getPort()).close();
            return true;
        });
        InetSocketAddress listen = Ports.loopback(Ports.free());
        // The storm's polite half reaches the backend too, whose own listen queue then overflows and
        // drops SYNs: the connect to it must outlast the kernel's first SYN retransmission (1 s).
        Balancer balancer = toClose.add(Balancer.start(Configs.tcp(listen, List.of(backendAddress), "connectTimeout: 5s"),
                TRANSPORT, 2));
        PortCounters counters = balancer.snapshot().routes().get(0).counters();

        AtomicBoolean storming = new AtomicBoolean(true);
        ExecutorService threads = Executors.newFixedThreadPool(5);
        try {
            List<Future<Long>> stormers = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                boolean reset = t % 2 == 0;
                stormers.add(threads.submit(() -> storm(listen, reset, storming)));
            }
            Future<Histogram> served = threads.submit(() -> exchangeEvery5Ms(listen, storming));
            Thread.sleep(STORM.toMillis());
            storming.set(false);
            long stormConnections = 0;
            for (Future<Long> stormer : stormers) {
                stormConnections += stormer.get(30, TimeUnit.SECONDS);
            }
            Histogram latency;
            try {
                latency = served.get(30, TimeUnit.SECONDS);
            } catch (java.util.concurrent.ExecutionException e) {
                StringBuilder outcomes = new StringBuilder();
                for (Outcome outcome : Outcome.values()) {
                    outcomes.append(' ').append(outcome.label()).append('=').append(counters.count(outcome));
                }
                throw new AssertionError("the well-behaved client failed; the port's outcomes:" + outcomes
                        + "; the endpoint's last connect error: "
                        + balancer.snapshot().routes().get(0).backends().get(0).counters().lastError(), e.getCause());
            }
            assertThat(latency.getTotalCount()).as("exchanges during the storm").isPositive();

            long afterStorm = System.nanoTime();
            try (Socket client = Sockets.connect(listen)) {
                Sockets.assertEchoes(client, "after the storm");
            }
            long firstAfterMicros = TimeUnit.NANOSECONDS.toMicros(System.nanoTime() - afterStorm);
            await().atMost(Duration.ofSeconds(20)).until(() -> counters.active() == 0);
            long resetInQueue = counters.count(Outcome.CLIENT_RESET);
            if (TRANSPORT != Transport.NIO) {
                // Half the storm resets at once, into a full listen queue: those are closed without an endpoint.
                assertThat(resetInQueue).as("connections reset in the listen queue, closed unserved").isPositive();
            }
            System.out.printf("connection storm (%s, %d s): %d storm connections, %d of them reset before they were"
                            + " accepted; the other client's %d exchanges all served, p50 %.2f ms, p99 %.2f ms, max"
                            + " %.2f ms; the first after the storm took %d us%n",
                    TRANSPORT.displayName(), STORM.toSeconds(), stormConnections, resetInQueue, latency.getTotalCount(),
                    latency.getValueAtPercentile(50) / 1000.0, latency.getValueAtPercentile(99) / 1000.0,
                    latency.getMaxValue() / 1000.0, firstAfterMicros);
        } finally {
            storming.set(false);
            threads.shutdownNow();
            threads.awaitTermination(30, TimeUnit.SECONDS);
        }
    }

    /** Connects and drops, over and over: a reset (SO_LINGER 0) or a FIN. Connections made. */
    private static long storm(InetSocketAddress listen, boolean reset, AtomicBoolean going) {
        long made = 0;
        while (going.get()) {
            try (Socket socket = new Socket()) {
                if (reset) {
                    socket.setSoLinger(true, 0);
                }
                socket.connect(listen, 1000);
                made++;
            } catch (IOException refusedOrTimedOut) {
                // the storm does not care: the backlog may be full for a moment
            }
        }
        return made;
    }

    /** A fresh connection and one exchange every 5 ms; each must succeed. Latencies in µs. */
    private static Histogram exchangeEvery5Ms(InetSocketAddress listen, AtomicBoolean going) throws Exception {
        Histogram latency = new Histogram(TimeUnit.SECONDS.toMicros(30), 3);
        while (going.get()) {
            long start = System.nanoTime();
            // A full listen queue drops SYNs: the kernel retries after 1, 2, 4 s, so allow for three tries.
            try (Socket client = new Socket()) {
                client.connect(listen, 15_000);
                client.setSoTimeout(30_000);
                Sockets.assertEchoes(client, "served during the storm");
            }
            latency.recordValue(Math.max(1, TimeUnit.NANOSECONDS.toMicros(System.nanoTime() - start)));
            Thread.sleep(5);
        }
        return latency;
    }
}

package dev.l4lb.netty.tcp;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufAllocatorMetric;
import io.netty.buffer.ByteBufAllocatorMetricProvider;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import dev.l4lb.netty.Balancer;
import dev.l4lb.netty.transport.Transport;
import dev.l4lb.netty.testing.Configs;
import dev.l4lb.netty.testing.NoLeaks;
import dev.l4lb.netty.testing.Ports;
import dev.l4lb.netty.testing.Sockets;

/**
 * A fast backend and a slow client: the balancer must hold back the backend instead of buffering
 * the difference. Checked on the memory Netty's allocator has handed out, not on time.
 */
@ExtendWith(NoLeaks.class)
class BackpressureTest {
    private static final long TOTAL = 512L << 20;
    /** Far below the 512 MiB that would pile up without backpressure, well above a few read buffers. */
    private static final long BOUND = 32L << 20;

    static List<Transport> transports() {
        return dev.l4lb.netty.testing.Transports.available();
    }

    @ParameterizedTest
    @MethodSource("transports")
    void aSlowReaderKeepsTheBalancersBuffersBounded(Transport transport) throws Exception {
        ByteBufAllocatorMetric metric = ((ByteBufAllocatorMetricProvider) ByteBufAllocator.DEFAULT).metric();
        try (ServerSocket backend = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            CompletableFuture<Long> pushed = CompletableFuture.supplyAsync(() -> {
                try (Socket socket = backend.accept()) {
                    OutputStream out = socket.getOutputStream();
                    byte[] chunk = new byte[1 << 20];
                    for (long sent = 0; sent < TOTAL; sent += chunk.length) {
                        out.write(chunk); // as fast as the balancer lets it
                    }
                    return TOTAL;
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
            });
            InetSocketAddress listen = Ports.loopback(Ports.free());
            try (Balancer balancer = Balancer.start(
                    Configs.tcp(listen, List.of((InetSocketAddress) backend.getLocalSocketAddress())), transport, 2)) {
                AtomicBoolean done = new AtomicBoolean();
                AtomicLong peak = new AtomicLong();
                Thread sampler = new Thread(() -> {
                    while (!done.get()) {
                        peak.accumulateAndGet(metric.usedDirectMemory() + metric.usedHeapMemory(), Math::max);
                        try {
                            Thread.sleep(2);
                        } catch (InterruptedException e) {
                            return;
                        }
                    }
                });
                sampler.start();
                long received = 0;
                try (Socket client = Sockets.connect(listen)) {
                    client.setReceiveBufferSize(64 << 10);
                    InputStream in = client.getInputStream();
                    byte[] buffer = new byte[256 << 10];
                    while (received < TOTAL) {
                        int n = in.read(buffer);
                        if (n < 0) {
                            break;
                        }
                        received += n;
                        Thread.sleep(1); // the slow reader: well under what loopback and the backend can do
                    }
                } finally {
                    done.set(true);
                    sampler.join();
                }
                assertThat(received).isEqualTo(TOTAL);
                assertThat(pushed.get(30, TimeUnit.SECONDS)).isEqualTo(TOTAL);
                assertThat(peak.get()).as("peak bytes held by Netty's allocator during the transfer").isLessThan(BOUND);
                System.out.printf("%s: peak allocator memory %d KiB while relaying %d MiB to a slow reader%n",
                        transport, peak.get() >> 10, TOTAL >> 20);
            }
        }
    }
}

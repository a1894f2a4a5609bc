package dev.l4lb.netty.udp;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.management.BufferPoolMXBean;
import java.lang.management.ManagementFactory;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetSocketAddress;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufAllocatorMetricProvider;

import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import dev.l4lb.core.model.Addresses;
import dev.l4lb.netty.Balancer;
import dev.l4lb.netty.transport.Transport;
import dev.l4lb.netty.echo.EchoServer;
import dev.l4lb.netty.testing.Closer;
import dev.l4lb.netty.testing.Configs;
import dev.l4lb.netty.testing.Ports;
import dev.l4lb.netty.testing.Transports;

/**
 * What one UDP session costs the balancer in heap and direct memory, on each transport (issue
 * #21: Netty's io_uring datagram channel reserves 512 message headers, ~270 KiB, per socket, and
 * every session has a socket of its own, so the default table of 65,536 sessions could take
 * 17 GiB). {@code maxSessions} is stated in the README as a memory bound from this figure.
 */
class UdpSessionMemoryTest {
    private static final int SESSIONS = 1_000;
    /** The README's bound per session: heap and direct memory, beyond the kernel's socket buffers. */
    private static final long MAX_BYTES_PER_SESSION = 16 << 10;

    @RegisterExtension
    final Closer toClose = new Closer();

    static List<Transport> transports() {
        return Transports.available();
    }

    @ParameterizedTest
    @MethodSource("transports")
    void aSessionCostsAFewKibibytes(Transport transport) throws Exception {
        EchoServer backend = toClose.add(EchoServer.startUdp(List.of(Ports.freeUdp()), Transport.NIO, 1));
        InetSocketAddress listen = Ports.freeUdp();
        Balancer balancer = toClose.add(Balancer.start(Configs.parse("""
                services:
                  - name: memory/udp
                    ports:
                      - protocol: UDP
                        listen: ["%s"]
                        idleTimeout: 120s
                        endpoints: ["%s"]
                """.formatted(Addresses.format(listen), Addresses.format(backend.addresses().get(0)))), transport, 2));
        List<DatagramSocket> clients = new ArrayList<>(SESSIONS);
        try {
            for (int i = 0; i < SESSIONS; i++) {
                DatagramSocket client = new DatagramSocket(new InetSocketAddress("127.0.0.1", 0));
                client.setSoTimeout(2_000);
                clients.add(client);
            }
            exchange(clients.get(0), listen, "warm-up"); // the path's classes and first buffers, before the baseline
            long before = usedMemory();
            for (int i = 1; i < SESSIONS; i++) {
                exchange(clients.get(i), listen, "session " + i);
            }
            assertThat(balancer.snapshot().routes().get(0).counters().active())
                    .as("sessions open").isEqualTo(SESSIONS);
            long perSession = (usedMemory() - before) / (SESSIONS - 1);
            System.out.printf("udp session memory on %s: %,d B heap + direct per session (%,d sessions)%n",
                    transport.displayName(), perSession, SESSIONS);
            assertThat(perSession).as("heap + direct bytes per UDP session on %s", transport.displayName())
                    .isLessThan(MAX_BYTES_PER_SESSION);
        } finally {
            clients.forEach(DatagramSocket::close);
        }
    }

    /** One datagram to the balancer and its echo back: the session is open once this returns. */
    private static void exchange(DatagramSocket client, InetSocketAddress listen, String text) throws Exception {
        byte[] sent = text.getBytes(StandardCharsets.US_ASCII);
        byte[] reply = new byte[256];
        for (int attempt = 0; ; attempt++) {
            client.send(new DatagramPacket(sent, sent.length, listen));
            DatagramPacket packet = new DatagramPacket(reply, reply.length);
            try {
                client.receive(packet);
                assertThat(new String(packet.getData(), 0, packet.getLength(), StandardCharsets.US_ASCII)).isEqualTo(text);
                return;
            } catch (SocketTimeoutException e) {
                assertThat(attempt).as("answers to '%s' (UDP may lose one)", text).isLessThan(2);
            }
        }
    }

    /** Heap in use after full collections, the JDK's direct buffers and Netty's pooled direct memory. */
    private static long usedMemory() throws InterruptedException {
        for (int i = 0; i < 3; i++) {
            System.gc();
            Thread.sleep(100);
        }
        long heap = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
        long direct = ManagementFactory.getPlatformMXBeans(BufferPoolMXBean.class).stream()
                .filter(pool -> pool.getName().equals("direct")).mapToLong(BufferPoolMXBean::getMemoryUsed).sum();
        long pooled = ByteBufAllocator.DEFAULT instanceof ByteBufAllocatorMetricProvider provider
                ? provider.metric().usedDirectMemory() : 0;
        return heap + direct + pooled;
    }
}

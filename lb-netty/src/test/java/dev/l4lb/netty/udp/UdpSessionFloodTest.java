package dev.l4lb.netty.udp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.RegisterExtension;

import dev.l4lb.core.table.DatagramDrop;
import dev.l4lb.core.table.Outcome;
import dev.l4lb.core.table.PortCounters;
import dev.l4lb.netty.Balancer;
import dev.l4lb.netty.transport.Transport;
import dev.l4lb.netty.echo.EchoServer;
import dev.l4lb.netty.testing.Closer;
import dev.l4lb.netty.testing.Configs;
import dev.l4lb.netty.testing.NoLeaks;
import dev.l4lb.netty.testing.Ports;

/**
 * Issue 15's UDP torture: 5,000 client ports at once, sending round after round for the run
 * ({@code -Dl4lb.torture.udpSeconds=30} for the long form, 5 s here), to a port whose session table
 * holds 1,000. What must hold: the table never grows past its bound (nor the balancer's sockets:
 * one per session), the clients it holds get their own datagrams back every round, the others are
 * refused and counted, and when the flood stops and the sessions idle out every socket is closed.
 */
@ExtendWith(NoLeaks.class)
class UdpSessionFloodTest {
    private static final Transport TRANSPORT = Transport.select("auto");
    private static final int CLIENTS = 5_000;
    private static final int MAX_SESSIONS = 1_000;
    private static final Duration RUN = Duration.ofSeconds(Integer.getInteger("l4lb.torture.udpSeconds", 5));

    @RegisterExtension
    final Closer toClose = new Closer();

    @Test
    void fiveThousandClientPortsKeepTheSessionTableAtItsBound() throws Exception {
        EchoServer backend = toClose.add(EchoServer.startUdp(List.of(Ports.freeUdp()), TRANSPORT, 1));
        InetSocketAddress listen = Ports.freeUdp();
        Balancer balancer = toClose.add(Balancer.start(Configs.parse("""
                services:
                  - name: torture/udp
                    ports:
                      - protocol: UDP
                        listen: ["%s"]
                        maxSessions: %d
                        idleTimeout: 5s
                        endpoints: ["%s"]
                """.formatted(dev.l4lb.core.model.Addresses.format(listen), MAX_SESSIONS,
                dev.l4lb.core.model.Addresses.format(backend.addresses().get(0)))), TRANSPORT, 2));
        PortCounters counters = balancer.snapshot().routes().get(0).counters();
        long fdsAtStart = openFds();

        List<DatagramChannel> clients = new ArrayList<>(CLIENTS);
        int rounds = 0;
        int maxActive = 0;
        long maxFds = 0;
        Set<Integer> everAnswered = new HashSet<>();
        List<Integer> answeredPerRound = new ArrayList<>();
        try (Selector selector = Selector.open()) {
            for (int i = 0; i < CLIENTS; i++) {
                DatagramChannel channel = DatagramChannel.open();
                channel.bind(Ports.loopback(0));
                channel.configureBlocking(false);
                channel.register(selector, SelectionKey.OP_READ, i);
                clients.add(channel);
            }
            long end = System.nanoTime() + RUN.toNanos();
            ByteBuffer in = ByteBuffer.allocate(256);
            while (System.nanoTime() < end) {
                rounds++;
                for (int i = 0; i < CLIENTS; i++) {
                    clients.get(i).send(ByteBuffer.wrap(payload(i, rounds)), listen);
                    if (i % 250 == 249) {
                        Thread.sleep(2); // a flood, but not one that only measures the kernel's socket buffers
                    }
                }
                Set<Integer> answered = new HashSet<>();
                long roundEnd = System.nanoTime() + Duration.ofMillis(500).toNanos();
                while (System.nanoTime() < roundEnd) {
                    selector.select(50);
                    for (SelectionKey key : selector.selectedKeys()) {
                        DatagramChannel channel = (DatagramChannel) key.channel();
                        int client = (int) key.attachment();
                        for (SocketAddress from; (from = channel.receive(in.clear())) != null; ) {
                            String got = new String(in.array(), 0, in.position(), StandardCharsets.US_ASCII);
                            assertThat(from).isEqualTo(listen);
                            assertThat(got).as("client %d's answer", client).startsWith("client " + client + " ");
                            answered.add(client);
                        }
                    }
                    selector.selectedKeys().clear();
                }
                maxActive = Math.max(maxActive, counters.active());
                maxFds = Math.max(maxFds, openFds());
                assertThat(counters.active()).as("sessions in round %d", rounds).isLessThanOrEqualTo(MAX_SESSIONS);
                assertThat(answered.size()).as("clients answered in round %d", rounds).isLessThanOrEqualTo(MAX_SESSIONS);
                if (rounds > 1) {
                    // Past the first round the table is full of clients that keep sending, and they are
                    // served (some datagrams may be lost in the sockets' buffers on the way: this is UDP).
                    assertThat(answered.size()).as("clients answered in round %d", rounds).isGreaterThan(MAX_SESSIONS / 4);
                }
                everAnswered.addAll(answered);
                answeredPerRound.add(answered.size());
            }
        } finally {
            for (DatagramChannel channel : clients) {
                channel.close();
            }
        }
        assertThat(maxFds - fdsAtStart).as("descriptors beyond the start: the clients' and one per session")
                .isLessThanOrEqualTo(CLIENTS + MAX_SESSIONS + 16);
        // Only clients with a session are answered. A session ends while its client keeps sending only
        // when the listener's full buffer lost all the client's datagrams for the idle timeout (the
        // 30 s form saw 2 and 68): then another client may take its place, within the bound.
        long opened = counters.count(Outcome.OK);
        assertThat(everAnswered).as("clients that ever had a session").hasSizeLessThanOrEqualTo((int) opened);
        assertThat(counters.count(Outcome.REFUSED_LIMIT)).isPositive();
        assertThat(counters.dropped(DatagramDrop.REFUSED)).isPositive();
        // What the listeners' full receive buffers lost, which the kernel counts (the rest of the answers missing).
        long kernelDrops = balancer.metrics().receiveBufferDrops(balancer.snapshot().routes().get(0).port());
        // Idle sessions end and their sockets close.
        await().atMost(Duration.ofSeconds(30)).until(() -> counters.active() == 0);
        await().atMost(Duration.ofSeconds(10)).until(() -> openFds() <= fdsAtStart);
        System.out.printf("UDP flood: %d client ports for %d s (%d rounds), table bound %d: at most %d sessions,"
                        + " %d clients ever answered (per round %s), %d sessions opened, %d refused, %d datagrams dropped"
                        + " as refused, %d dropped by the kernel (listener receive buffers full)%n",
                CLIENTS, RUN.toSeconds(), rounds, MAX_SESSIONS, maxActive, everAnswered.size(), answeredPerRound,
                opened, counters.count(Outcome.REFUSED_LIMIT), counters.dropped(DatagramDrop.REFUSED), kernelDrops);
    }

    private static byte[] payload(int client, int round) {
        return ("client " + client + " round " + round).getBytes(StandardCharsets.US_ASCII);
    }

    private static long openFds() throws IOException {
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            return fds.count();
        }
    }
}

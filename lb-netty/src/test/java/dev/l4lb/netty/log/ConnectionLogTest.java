package dev.l4lb.netty.log;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CountDownLatch;

import tools.jackson.databind.JsonNode;
import tools.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.RegisterExtension;

import dev.l4lb.core.config.BalancerConfig;
import dev.l4lb.core.model.Addresses;
import dev.l4lb.netty.Balancer;
import dev.l4lb.netty.transport.Transport;
import dev.l4lb.netty.echo.EchoServer;
import dev.l4lb.netty.testing.Closer;
import dev.l4lb.netty.testing.Configs;
import dev.l4lb.netty.testing.EchoBackends;
import dev.l4lb.netty.testing.NoLeaks;
import dev.l4lb.netty.testing.Ports;
import dev.l4lb.netty.testing.Sockets;

/** The connection log: one line per closed connection, with what an operator needs to find it. */
@ExtendWith(NoLeaks.class)
class ConnectionLogTest {
    private static final Transport TRANSPORT = Transport.select("auto");
    private static final ObjectMapper JSON = new ObjectMapper();

    @RegisterExtension
    final Closer toClose = new Closer();

    @Test
    void eachClosedConnectionIsOneJsonLineWithClientEndpointBytesAndOutcome() throws Exception {
        EchoServer backend = toClose.add(EchoBackends.start(TRANSPORT, 1));
        InetSocketAddress endpoint = backend.addresses().get(0);
        InetSocketAddress open = Ports.loopback(Ports.free());
        InetSocketAddress fenced = Ports.loopback(Ports.free());
        BalancerConfig config = Configs.parse("""
                services:
                  - name: test/log
                    ports:
                      - name: open
                        listen: ["%1$s"]
                        endpoints: ["%3$s"]
                      - name: fenced
                        listen: ["%2$s"]
                        sourceRanges: ["10.0.0.0/8"]
                        endpoints: ["%3$s"]
                """.formatted(Addresses.format(open), Addresses.format(fenced), Addresses.format(endpoint)));
        ByteArrayOutputStream lines = new ByteArrayOutputStream();
        Balancer balancer = Balancer.start(config, TRANSPORT, 1,
                ConnectionLog.start(ConnectionLog.Format.JSON, new PrintStream(lines, true, StandardCharsets.UTF_8), 1000));
        int clientPort;
        try {
            try (Socket client = Sockets.connect(open)) {
                clientPort = client.getLocalPort();
                Sockets.assertEchoes(client, "twelve bytes");
            }
            try (Socket refused = Sockets.connect(fenced)) {
                assertThat(Sockets.readOrEnd(refused)).isEqualTo(-1);
            }
        } finally {
            balancer.close(); // the log is written out on shutdown
        }

        List<JsonNode> logged = lines.toString(StandardCharsets.UTF_8).lines().map(ConnectionLogTest::json).toList();
        assertThat(logged).hasSize(2);
        JsonNode served = logged.stream().filter(l -> l.path("outcome").asText().equals("ok")).findFirst().orElseThrow();
        assertThat(served.path("service").asText()).isEqualTo("test/log:open");
        assertThat(served.path("client").asText()).isEqualTo("127.0.0.1:" + clientPort);
        assertThat(served.path("destination").asText()).isEqualTo(Addresses.format(open));
        assertThat(served.path("endpoint").asText()).isEqualTo(Addresses.format(endpoint));
        assertThat(served.path("bytesIn").asLong()).isEqualTo(12);
        assertThat(served.path("bytesOut").asLong()).isEqualTo(12);
        assertThat(served.path("durationMs").asDouble()).isPositive();
        assertThat(served.path("id").asText()).hasSize(60); // Netty's long channel id, as in the PROXY v2 unique id
        assertThat(Instant.parse(served.path("time").asText())).isBefore(Instant.now());
        JsonNode denied = logged.stream().filter(l -> !l.path("outcome").asText().equals("ok")).findFirst().orElseThrow();
        assertThat(denied.path("outcome").asText()).isEqualTo("denied_source");
        assertThat(denied.path("service").asText()).isEqualTo("test/log:fenced");
        assertThat(denied.path("endpoint").isNull()).isTrue();
        assertThat(denied.path("bytesIn").asLong()).isZero();
    }

    /**
     * A refused connect names the endpoint that refused it: closed ports on loopback, which answer
     * a SYN with a reset. With two such endpoints both are tried, and the line names the last.
     */
    @Test
    void aConnectFailedLineNamesTheEndpointWhoseConnectWasRefused() throws Exception {
        InetSocketAddress closed = Ports.loopback(Ports.free());
        InetSocketAddress alsoClosed = Ports.loopback(Ports.free());
        InetSocketAddress one = Ports.loopback(Ports.free());
        InetSocketAddress two = Ports.loopback(Ports.free());
        BalancerConfig config = Configs.parse("""
                services:
                  - name: test/log
                    ports:
                      - name: one
                        listen: ["%1$s"]
                        endpoints: ["%3$s"]
                      - name: two
                        listen: ["%2$s"]
                        endpoints: ["%3$s", "%4$s"]
                """.formatted(Addresses.format(one), Addresses.format(two), Addresses.format(closed),
                Addresses.format(alsoClosed)));
        ByteArrayOutputStream lines = new ByteArrayOutputStream();
        Balancer balancer = Balancer.start(config, TRANSPORT, 1,
                ConnectionLog.start(ConnectionLog.Format.TEXT, new PrintStream(lines, true, StandardCharsets.UTF_8), 1000));
        try {
            for (InetSocketAddress listener : List.of(one, two)) {
                try (Socket client = Sockets.connect(listener)) {
                    assertThat(Sockets.readOrEnd(client)).isEqualTo(-1);
                } catch (java.net.SocketException reset) {
                    // the balancer resets a client it could not serve: the same answer
                }
            }
        } finally {
            balancer.close(); // the log is written out on shutdown
        }

        List<String> logged = lines.toString(StandardCharsets.UTF_8).lines().toList();
        assertThat(logged).hasSize(2);
        assertThat(logged).filteredOn(l -> l.contains("service=test/log:one ")).singleElement().asString()
                .contains(" endpoint=" + Addresses.format(closed) + " ", " outcome=connect_failed ");
        String twoTried = logged.stream().filter(l -> l.contains("service=test/log:two ")).findFirst().orElseThrow();
        assertThat(twoTried).contains(" outcome=connect_failed ").doesNotContain(" endpoint=- ");
        assertThat(twoTried).containsAnyOf(" endpoint=" + Addresses.format(closed) + " ",
                " endpoint=" + Addresses.format(alsoClosed) + " ");
        // Both were tried before the client was refused.
        assertThat(balancer.snapshot().routes()).filteredOn(r -> r.port().name().equals("two")).singleElement()
                .satisfies(r -> assertThat(r.backends()).allSatisfy(b -> assertThat(b.counters().connectFailures()).isEqualTo(1)));
    }

    @Test
    void aUdpSessionIsOneLineWhenItEndsWithItsBytesAndWhy() throws Exception {
        EchoServer backend = toClose.add(EchoServer.startUdp(List.of(Ports.loopback(0)), TRANSPORT, 1));
        InetSocketAddress endpoint = backend.addresses().get(0);
        InetSocketAddress service = Ports.freeUdp();
        BalancerConfig config = Configs.parse("""
                services:
                  - name: test/log
                    ports:
                      - name: dns
                        protocol: UDP
                        idleTimeout: 200ms
                        listen: ["%s"]
                        endpoints: ["%s"]
                """.formatted(Addresses.format(service), Addresses.format(endpoint)));
        ByteArrayOutputStream lines = new ByteArrayOutputStream();
        Balancer balancer = Balancer.start(config, TRANSPORT, 1,
                ConnectionLog.start(ConnectionLog.Format.JSON, new PrintStream(lines, true, StandardCharsets.UTF_8), 1000));
        int clientPort;
        try (DatagramSocket client = new DatagramSocket(Ports.loopback(0))) {
            client.setSoTimeout(2000);
            clientPort = client.getLocalPort();
            byte[] query = "seven b".getBytes(StandardCharsets.US_ASCII);
            client.send(new DatagramPacket(query, query.length, service));
            client.receive(new DatagramPacket(new byte[64], 64));
            await().atMost(Duration.ofSeconds(10)).until(() -> balancer.snapshot().routes().get(0).counters().active() == 0);
        } finally {
            balancer.close();
        }

        List<JsonNode> logged = lines.toString(StandardCharsets.UTF_8).lines().map(ConnectionLogTest::json).toList();
        assertThat(logged).hasSize(1);
        JsonNode session = logged.get(0);
        assertThat(session.path("service").asText()).isEqualTo("test/log:dns");
        assertThat(session.path("client").asText()).isEqualTo("127.0.0.1:" + clientPort);
        assertThat(session.path("destination").asText()).isEqualTo(Addresses.format(service));
        assertThat(session.path("endpoint").asText()).isEqualTo(Addresses.format(endpoint));
        assertThat(session.path("bytesIn").asLong()).isEqualTo(7);
        assertThat(session.path("bytesOut").asLong()).isEqualTo(7);
        assertThat(session.path("outcome").asText()).isEqualTo("idle_timeout");
    }

    @Test
    void textLinesAreKeyValuePairs() {
        ClosedConnection closed = new ClosedConnection(Instant.parse("2026-01-02T03:04:05Z"), "id1", "ns/svc:http",
                new InetSocketAddress(InetAddress.getLoopbackAddress(), 40000),
                new InetSocketAddress(InetAddress.getLoopbackAddress(), 8080), null, 5, 7, 1_500_000, "no_endpoint");
        assertThat(closed.text()).isEqualTo("2026-01-02T03:04:05Z id=id1 service=ns/svc:http client=127.0.0.1:40000 "
                + "destination=127.0.0.1:8080 endpoint=- in=5 out=7 duration_ms=1.500 outcome=no_endpoint sni=-");
    }

    @Test
    void theServerNameOfAConnectionRoutedByNameIsInBothFormats() {
        ClosedConnection closed = new ClosedConnection(Instant.parse("2026-01-02T03:04:05Z"), "id1", "shop/web",
                new InetSocketAddress(InetAddress.getLoopbackAddress(), 40000),
                new InetSocketAddress(InetAddress.getLoopbackAddress(), 443), null, 0, 0, 0, "no_match", "shop.example");
        assertThat(closed.text()).endsWith(" outcome=no_match sni=shop.example");
        assertThat(closed.json()).contains("\"sni\":\"shop.example\"");
    }

    @Test
    void aWriterThatFallsBehindDropsAndCountsLinesInsteadOfHoldingTheDataPlane() throws Exception {
        CountDownLatch unblock = new CountDownLatch(1);
        OutputStream stuck = new OutputStream() {
            @Override
            public void write(int b) {
                try {
                    unblock.await(); // a disk that does not answer
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        };
        ConnectionLog log = ConnectionLog.start(ConnectionLog.Format.TEXT, new PrintStream(stuck, true, StandardCharsets.UTF_8), 4);
        try {
            ClosedConnection closed = new ClosedConnection(Instant.now(), "id", "ns/svc", Ports.loopback(1), Ports.loopback(2),
                    null, 0, 0, 0, "ok");
            for (int i = 0; i < 20; i++) {
                log.add(closed); // returns at once although nothing is written
            }
            // The writer holds at most one line in hand, the queue four: the rest is dropped and counted.
            assertThat(log.dropped()).isBetween(15L, 16L);
        } finally {
            unblock.countDown();
            log.close();
        }
    }

    private static JsonNode json(String line) {
        try {
            return JSON.readTree(line);
        } catch (Exception e) {
            throw new AssertionError("not a JSON line: " + line, e);
        }
    }
}

package dev.l4lb.netty.udp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import dev.l4lb.core.config.BalancerConfig;
import dev.l4lb.core.config.ConfigLoader;
import dev.l4lb.core.model.Addresses;
import dev.l4lb.core.table.DatagramDrop;
import dev.l4lb.core.table.Outcome;
import dev.l4lb.core.table.PortCounters;
import dev.l4lb.netty.Balancer;
import dev.l4lb.netty.ConfigReloader;
import dev.l4lb.netty.Reload;
import dev.l4lb.netty.transport.Transport;
import dev.l4lb.netty.echo.EchoServer;
import dev.l4lb.netty.testing.Closer;
import dev.l4lb.netty.testing.Configs;
import dev.l4lb.netty.testing.EchoBackends;
import dev.l4lb.netty.testing.NoLeaks;
import dev.l4lb.netty.testing.Ports;
import dev.l4lb.netty.testing.Transports;

/** UDP service ports end to end: real datagram clients, the balancer, real UDP echo backends. */
@ExtendWith(NoLeaks.class)
class UdpProxyTest {
    private static final Transport TRANSPORT = Transport.select("auto");
    private static final Pattern WHOAMI = Pattern.compile("backend=(\\S+) client=(\\S+)");

    @RegisterExtension
    final Closer toClose = new Closer();

    static List<Transport> transports() {
        return Transports.available();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("transports")
    void aHundredConcurrentClientsGetTheirOwnAnswersAndRoundRobinSpreadsTheirSessions(Transport transport) throws Exception {
        List<InetSocketAddress> backends = udpBackends(transport, 3);
        InetSocketAddress listen = Ports.freeUdp();
        Balancer balancer = start(transport, listen, backends);

        ExecutorService clients = Executors.newFixedThreadPool(100);
        List<Future<String>> served = new ArrayList<>();
        // All open at once, so that no two clients share a port (and so a session).
        List<DatagramSocket> sockets = new ArrayList<>();
        try {
            for (int c = 0; c < 100; c++) {
                sockets.add(client());
            }
            for (int c = 0; c < 100; c++) {
                int client = c;
                DatagramSocket socket = sockets.get(c);
                served.add(clients.submit(() -> {
                    String backend = whoami(socket, listen).group(1);
                    for (int i = 0; i < 10; i++) {
                        String payload = "client " + client + " exchange " + i;
                        assertThat(exchange(socket, listen, payload)).isEqualTo(payload);
                    }
                    return backend;
                }));
            }
            Map<String, Integer> sessions = new HashMap<>();
            for (Future<String> f : served) {
                sessions.merge(f.get(60, TimeUnit.SECONDS), 1, Integer::sum);
            }
            // Each client is one session; round-robin hands them out in turn: 34, 33, 33.
            assertThat(sessions).containsOnlyKeys(names(backends));
            assertThat(sessions.values()).allSatisfy(n -> assertThat(n).isBetween(33, 34));
        } finally {
            clients.shutdownNow();
            sockets.forEach(DatagramSocket::close);
        }
        PortCounters counters = balancer.snapshot().routes().get(0).counters();
        assertThat(counters.count(Outcome.OK)).isEqualTo(100);
        assertThat(counters.datagramsIn()).isEqualTo(1100);
        assertThat(counters.datagramsOut()).isEqualTo(1100);
        for (DatagramDrop reason : DatagramDrop.values()) {
            assertThat(counters.dropped(reason)).as(reason.name()).isZero();
        }
    }

    @Test
    void clientIpAffinityKeepsAClientOnOneEndpointAcrossSessions() throws Exception {
        List<InetSocketAddress> backends = udpBackends(TRANSPORT, 3);
        InetSocketAddress listen = Ports.freeUdp();
        start(TRANSPORT, listen, backends, "sessionAffinity: ClientIP");

        for (String ip : List.of("127.0.0.2", "127.0.0.3", "127.0.0.4")) {
            List<String> seen = new ArrayList<>();
            for (int session = 0; session < 5; session++) {
                // A new socket is a new source port: a new session, the same client IP.
                try (DatagramSocket socket = new DatagramSocket(new InetSocketAddress(InetAddress.getByName(ip), 0))) {
                    socket.setSoTimeout(2000);
                    seen.add(whoami(socket, listen).group(1));
                }
            }
            assertThat(seen).as("client " + ip).containsOnly(seen.get(0));
        }
    }

    @Test
    void idleSessionsExpireAndFreeTheirSockets() throws Exception {
        List<InetSocketAddress> backends = udpBackends(TRANSPORT, 2);
        InetSocketAddress listen = Ports.freeUdp();
        Balancer balancer = start(TRANSPORT, listen, backends, "idleTimeout: 1s");
        PortCounters counters = balancer.snapshot().routes().get(0).counters();

        List<DatagramSocket> clients = new ArrayList<>();
        try {
            for (int i = 0; i < 10; i++) {
                DatagramSocket socket = client();
                clients.add(socket);
                assertThat(exchange(socket, listen, "hello " + i)).isEqualTo("hello " + i);
            }
            assertThat(counters.active()).isEqualTo(10);
            await().atMost(Duration.ofSeconds(10)).until(() -> counters.active() == 0);
            assertThat(balancer.snapshot().routes().get(0).backends())
                    .allSatisfy(b -> assertThat(b.active()).isZero());
            // The next datagram of a client whose session expired opens a new one.
            assertThat(exchange(clients.get(0), listen, "again")).isEqualTo("again");
            assertThat(counters.count(Outcome.OK)).isEqualTo(11);
            assertThat(counters.active()).isEqualTo(1);
        } finally {
            clients.forEach(DatagramSocket::close);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("transports")
    void anEndpointThatIsDownCostsNoQueryTheFirstDatagramGoesToTheNextEndpoint(Transport transport) throws Exception {
        InetSocketAddress dead = Ports.freeUdp(); // nothing listens: the kernel answers ICMP port unreachable
        List<InetSocketAddress> live = udpBackends(transport, 1);
        InetSocketAddress listen = Ports.freeUdp();
        Balancer balancer = start(transport, listen, List.of(dead, live.get(0)));

        // DNS-like: every query from a new client port, so every query is a new session, and
        // round-robin sends every other one to the dead endpoint first.
        for (int query = 0; query < 20; query++) {
            try (DatagramSocket socket = client()) {
                assertThat(exchange(socket, listen, "query " + query)).isEqualTo("query " + query);
            }
        }
        // Every query was answered although the dead endpoint was picked first for many of them
        // (round-robin's retry takes a turn too; a client port the kernel hands out again finds
        // its session still open, so the exact count varies).
        var route = balancer.snapshot().routes().get(0);
        assertThat(route.counters().count(Outcome.UNREACHABLE)).isPositive();
        assertThat(route.backends().get(0).counters().connectFailures()).isEqualTo(route.counters().count(Outcome.UNREACHABLE));
        assertThat(route.backends().get(0).counters().lastError().message()).isNotEqualTo("null").isNotBlank();
    }

    @Test
    void anEndpointThatDiesAfterAnsweringCostsItsSessionOneDatagram() throws Exception {
        EchoServer first = toClose.add(EchoServer.startUdp(List.of(Ports.loopback(0)), TRANSPORT, 1));
        EchoServer second = toClose.add(EchoServer.startUdp(List.of(Ports.loopback(0)), TRANSPORT, 1));
        InetSocketAddress listen = Ports.freeUdp();
        start(TRANSPORT, listen, List.of(first.addresses().get(0), second.addresses().get(0)));

        try (DatagramSocket socket = client()) {
            assertThat(whoami(socket, listen).group(1)).isEqualTo(Addresses.format(first.addresses().get(0)));
            first.close(); // its port now answers ICMP port unreachable
            socket.setSoTimeout(500);
            send(socket, listen, "lost");
            assertThat(receiveOrNull(socket)).as("the datagram sent to the endpoint that died").isNull();
            socket.setSoTimeout(2000);
            assertThat(whoami(socket, listen).group(1)).isEqualTo(Addresses.format(second.addresses().get(0)));
        }
    }

    @Test
    void aReloadThatRemovesAnEndpointEndsItsSessionsEvenForAClientThatKeepsSending(@TempDir Path dir) throws Exception {
        EchoServer first = toClose.add(EchoServer.startUdp(List.of(Ports.loopback(0)), TRANSPORT, 1));
        EchoServer second = toClose.add(EchoServer.startUdp(List.of(Ports.loopback(0)), TRANSPORT, 1));
        InetSocketAddress a = first.addresses().get(0);
        InetSocketAddress b = second.addresses().get(0);
        InetSocketAddress listen = Ports.freeUdp();
        Path file = dir.resolve("l4lb.yaml");
        Files.writeString(file, udpService("a", listen, a) .replace("endpoints: [\"" + Addresses.format(a) + "\"]",
                "endpoints: [\"" + Addresses.format(a) + "\", \"" + Addresses.format(b) + "\"]"));
        Balancer balancer = toClose.add(Balancer.start(ConfigLoader.load(file), TRANSPORT, 2));

        try (DatagramSocket socket = client()) {
            assertThat(whoami(socket, listen).group(1)).isEqualTo(Addresses.format(a));
            Files.writeString(file, udpService("a", listen, b));
            assertThat(new ConfigReloader(file, balancer).reload().applied()).isTrue();
            // The session to the removed endpoint ends at the reload, not when the client goes quiet.
            await().atMost(Duration.ofSeconds(5)).untilAsserted(() ->
                    assertThat(whoami(socket, listen).group(1)).isEqualTo(Addresses.format(b)));
        }
    }

    @Test
    void aBurstOfDatagramsIsRelayedOneForOne() throws Exception {
        List<InetSocketAddress> backends = udpBackends(TRANSPORT, 1);
        InetSocketAddress listen = Ports.freeUdp();
        Balancer balancer = start(TRANSPORT, listen, backends);

        try (DatagramSocket socket = client()) {
            socket.setReceiveBufferSize(1 << 20);
            List<String> sent = new ArrayList<>();
            for (int i = 0; i < 200; i++) {
                String payload = "burst " + i + " " + "y".repeat(i % 50);
                sent.add(payload);
                send(socket, listen, payload); // no waiting: many datagrams per read on the balancer
            }
            List<String> received = new ArrayList<>();
            for (String answer; received.size() < 200 && (answer = receiveOrNull(socket)) != null; ) {
                received.add(answer);
            }
            assertThat(received).containsExactlyInAnyOrderElementsOf(sent);
        }
        assertThat(balancer.snapshot().routes().get(0).counters().datagramsOut()).isEqualTo(200);
    }

    @Test
    void aFullSessionTableRefusesNewClientsAndLeavesTheOthersAlone() throws Exception {
        List<InetSocketAddress> backends = udpBackends(TRANSPORT, 1);
        InetSocketAddress listen = Ports.freeUdp();
        Balancer balancer = start(TRANSPORT, listen, backends, "maxSessions: 2");
        PortCounters counters = balancer.snapshot().routes().get(0).counters();

        try (DatagramSocket a = client(); DatagramSocket b = client(); DatagramSocket c = client()) {
            assertThat(exchange(a, listen, "a")).isEqualTo("a");
            assertThat(exchange(b, listen, "b")).isEqualTo("b");
            c.setSoTimeout(300);
            send(c, listen, "c");
            assertThat(receiveOrNull(c)).as("the third client's datagram").isNull();
            assertThat(counters.count(Outcome.REFUSED_LIMIT)).isEqualTo(1);
            assertThat(counters.dropped(DatagramDrop.REFUSED)).isEqualTo(1);
            assertThat(exchange(a, listen, "a again")).isEqualTo("a again");
            assertThat(exchange(b, listen, "b again")).isEqualTo("b again");
            assertThat(counters.active()).isEqualTo(2);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("transports")
    void theLargestDatagramGoesThroughWholeAndNothingIsMergedOrSplit(Transport transport) throws Exception {
        List<InetSocketAddress> backends = udpBackends(transport, 1);
        InetSocketAddress listen = Ports.freeUdp();
        start(transport, listen, backends);
        byte[] largest = new byte[65_507]; // the most an IPv4 UDP datagram carries
        new Random(7).nextBytes(largest);

        try (DatagramSocket socket = client()) {
            for (byte[] payload : List.of(largest, new byte[] {42}, Arrays.copyOf(largest, 1472), largest)) {
                send(socket, listen, payload);
                DatagramPacket answer = new DatagramPacket(new byte[70_000], 70_000);
                socket.receive(answer);
                assertThat(Arrays.copyOf(answer.getData(), answer.getLength())).isEqualTo(payload);
            }
        }
    }

    @Test
    void aReloadBindsANewUdpPortAndARemovedOneStopsAnsweringWithItsSessionsEnded(@TempDir Path dir) throws Exception {
        List<InetSocketAddress> backends = udpBackends(TRANSPORT, 1);
        InetSocketAddress first = Ports.freeUdp();
        InetSocketAddress second = Ports.freeUdp();
        Path file = dir.resolve("l4lb.yaml");
        Files.writeString(file, udpService("a", first, backends.get(0)));
        Balancer balancer = toClose.add(Balancer.start(ConfigLoader.load(file), TRANSPORT, 2));
        ConfigReloader reloader = new ConfigReloader(file, balancer);

        Files.writeString(file, udpService("a", first, backends.get(0)) + udpService("b", second, backends.get(0))
                .replace("services:\n", ""));
        Reload added = reloader.reload();
        assertThat(added.applied()).as("%s", added.errors()).isTrue();
        assertThat(added.listenersBound()).containsExactly(second);
        try (DatagramSocket client = client()) {
            assertThat(exchange(client, second, "to b")).isEqualTo("to b");
            assertThat(exchange(client, first, "to a")).isEqualTo("to a");
            PortCounters b = balancer.snapshot().routes().get(1).counters();
            assertThat(b.active()).isEqualTo(1);

            Files.writeString(file, udpService("a", first, backends.get(0)));
            Reload removed = reloader.reload();
            assertThat(removed.listenersClosed()).containsExactly(second);
            await().atMost(Duration.ofSeconds(5)).until(() -> b.active() == 0);
            client.setSoTimeout(300);
            send(client, second, "to b again");
            assertThat(receiveOrNull(client)).as("an answer from the removed port").isNull();
            // The port that stays never noticed.
            assertThat(exchange(client, first, "to a again")).isEqualTo("to a again");
        }
        assertThat(balancer.metrics().scrape()).contains(
                "l4lb_port_datagrams_total{direction=\"in\",port=\"p\",protocol=\"UDP\",service=\"test/a\"} 2.0",
                "l4lb_port_datagrams_dropped_total{port=\"p\",protocol=\"UDP\",reason=\"refused\",service=\"test/a\"} 0.0",
                "l4lb_port_datagrams_dropped_total{port=\"p\",protocol=\"UDP\",reason=\"receive_buffer\",service=\"test/a\"} 0.0");
    }

    private static String udpService(String name, InetSocketAddress listen, InetSocketAddress endpoint) {
        return """
                services:
                  - name: test/%s
                    ports:
                      - name: p
                        protocol: UDP
                        listen: ["%s"]
                        endpoints: ["%s"]
                """.formatted(name, Addresses.format(listen), Addresses.format(endpoint));
    }

    private Balancer start(Transport transport, InetSocketAddress listen, List<InetSocketAddress> endpoints,
                           String... extraKeys) throws Exception {
        StringBuilder extra = new StringBuilder();
        for (String key : extraKeys) {
            extra.append("        ").append(key).append('\n');
        }
        BalancerConfig config = Configs.parse("""
                services:
                  - name: test/udp
                    ports:
                      - name: p
                        protocol: UDP
                        listen: ["%s"]
                %s        endpoints: [%s]
                """.formatted(Addresses.format(listen), extra,
                String.join(", ", endpoints.stream().map(e -> "\"" + Addresses.format(e) + "\"").toList())));
        return toClose.add(Balancer.start(config, transport, 2));
    }

    private List<InetSocketAddress> udpBackends(Transport transport, int count) throws Exception {
        return toClose.add(EchoBackends.startUdp(transport, count)).addresses();
    }

    private static DatagramSocket client() throws IOException {
        DatagramSocket socket = new DatagramSocket(Ports.loopback(0));
        socket.setSoTimeout(2000);
        return socket;
    }

    private static Matcher whoami(DatagramSocket socket, InetSocketAddress listen) throws IOException {
        String answer = exchange(socket, listen, "whoami");
        Matcher m = WHOAMI.matcher(answer);
        assertThat(m.matches()).as("whoami answer: " + answer).isTrue();
        return m;
    }

    private static String exchange(DatagramSocket socket, InetSocketAddress to, String payload) throws IOException {
        send(socket, to, payload);
        DatagramPacket answer = new DatagramPacket(new byte[70_000], 70_000);
        socket.receive(answer);
        // The answer comes from the service's address, as the client sent it.
        assertThat(answer.getSocketAddress()).isEqualTo(to);
        return new String(answer.getData(), 0, answer.getLength(), StandardCharsets.UTF_8);
    }

    private static void send(DatagramSocket socket, InetSocketAddress to, String payload) throws IOException {
        send(socket, to, payload.getBytes(StandardCharsets.UTF_8));
    }

    private static void send(DatagramSocket socket, InetSocketAddress to, byte[] payload) throws IOException {
        socket.send(new DatagramPacket(payload, payload.length, to));
    }

    private static String receiveOrNull(DatagramSocket socket) throws IOException {
        DatagramPacket answer = new DatagramPacket(new byte[70_000], 70_000);
        try {
            socket.receive(answer);
            return new String(answer.getData(), 0, answer.getLength(), StandardCharsets.UTF_8);
        } catch (SocketTimeoutException e) {
            return null;
        }
    }

    private static List<String> names(List<InetSocketAddress> addresses) {
        return addresses.stream().map(Addresses::format).toList();
    }
}

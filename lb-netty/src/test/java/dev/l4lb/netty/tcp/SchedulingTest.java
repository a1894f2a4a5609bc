package dev.l4lb.netty.tcp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.Collectors;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.RegisterExtension;

import dev.l4lb.core.config.BalancerConfig;
import dev.l4lb.core.model.Addresses;
import dev.l4lb.core.sched.Backend;
import dev.l4lb.netty.Balancer;
import dev.l4lb.netty.transport.Transport;
import dev.l4lb.netty.echo.EchoServer;
import dev.l4lb.netty.testing.Closer;
import dev.l4lb.netty.testing.Configs;
import dev.l4lb.netty.testing.EchoBackends;
import dev.l4lb.netty.testing.NoLeaks;
import dev.l4lb.netty.testing.Ports;
import dev.l4lb.netty.testing.RawHttp;

/** Schedulers and ClientIP affinity seen end to end: real clients, the balancer, real backends. */
@ExtendWith(NoLeaks.class)
class SchedulingTest {
    private static final Transport TRANSPORT = Transport.select("auto");
    @RegisterExtension
    final Closer toClose = new Closer();

    @Test
    void roundRobinGivesEachEndpointItsTurn() throws Exception {
        List<InetSocketAddress> backends = echoBackends(3);
        InetSocketAddress listen = Ports.loopback(Ports.free());
        start(config(listen, "rr", "", backends));

        Map<String, Integer> answered = new HashMap<>();
        for (int i = 0; i < 30; i++) {
            answered.merge(RawHttp.backendOf(RawHttp.get(listen, "/")), 1, Integer::sum);
        }

        assertThat(answered).containsOnlyKeys(names(backends)).allSatisfy((backend, count) -> assertThat(count).isEqualTo(10));
    }

    /** Issue #21: a refused connect's retry once took the next client's turn, so every client tried the dead endpoint first. */
    @Test
    void roundRobinTriesARefusingEndpointFirstOnlyOnItsOwnTurns() throws Exception {
        InetSocketAddress dead = Ports.loopback(Ports.free()); // nothing listens: every connect is refused
        List<InetSocketAddress> backends = new ArrayList<>();
        backends.add(dead);
        backends.addAll(echoBackends(1));
        InetSocketAddress listen = Ports.loopback(Ports.free());
        Balancer balancer = start(config(listen, "rr", "", backends));

        for (int i = 0; i < 20; i++) {
            assertThat(RawHttp.backendOf(RawHttp.get(listen, "/"))).isEqualTo(Addresses.format(backends.get(1)));
        }

        assertThat(balancer.snapshot().routes().get(0).backends().get(0).counters().connectFailures())
                .as("connects tried on the dead endpoint for 20 clients of 2 endpoints").isEqualTo(10);
    }

    @Test
    void leastConnectionSendsNewConnectionsAwayFromASlowEndpoint() throws Exception {
        // The first endpoint answers nothing and holds every connection it gets, as a stuck pod
        // would; the other two answer at once.
        HoldingBackend slow = new HoldingBackend();
        toClose.add(slow);
        List<InetSocketAddress> backends = new ArrayList<>();
        backends.add(slow.address());
        backends.addAll(echoBackends(2));
        Map<String, Integer> lc = spread("lc", backends, slow);
        Map<String, Integer> rr = spread("rr", backends, slow);

        // Round-robin keeps feeding the stuck endpoint its third; least-connection feeds it once.
        assertThat(rr.get("held")).isEqualTo(10);
        assertThat(lc.get("held")).isEqualTo(1);
        assertThat(lc.values().stream().mapToInt(Integer::intValue).sum()).isEqualTo(30);
    }

    @Test
    void clientIpAffinityKeepsAClientOnOneEndpointAndSpreadsClients() throws Exception {
        List<InetSocketAddress> backends = echoBackends(3);
        InetSocketAddress listen = Ports.loopback(Ports.free());
        start(config(listen, "rr", "sessionAffinity: ClientIP", backends));

        // One client address, many connections (each from a new source port): one endpoint.
        InetAddress client = InetAddress.getByName("127.0.0.1");
        List<String> sticky = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            sticky.add(RawHttp.backendOf(getFrom(client, listen)));
        }
        assertThat(sticky).containsOnly(sticky.get(0));

        // Different client addresses on loopback (127/8 is all local) land where rr sends them.
        List<String> perClient = new ArrayList<>();
        for (int i = 2; i <= 7; i++) {
            InetAddress other = InetAddress.getByName("127.0.0." + i);
            String first = RawHttp.backendOf(getFrom(other, listen));
            assertThat(RawHttp.backendOf(getFrom(other, listen))).isEqualTo(first);
            perClient.add(first);
        }
        assertThat(perClient.stream().distinct().count()).isEqualTo(3);
    }

    @Test
    void maglevKeyedOnClientIpPortSpreadsOneClientsConnections() throws Exception {
        List<InetSocketAddress> backends = echoBackends(3);
        InetSocketAddress byIp = Ports.loopback(Ports.free());
        InetSocketAddress byIpPort = Ports.loopback(Ports.free());
        start(config(byIp, "mh", "", backends));
        start(config(byIpPort, "mh", "hashKey: clientIpPort", backends));

        // One client address, 60 connections from as many source ports the kernel picks: keyed on
        // the address, one endpoint; keyed on address and port, all three (all 60 on one of three
        // by chance: 3 in 3^60).
        InetAddress client = InetAddress.getByName("127.0.0.1");
        Set<String> viaIp = new HashSet<>();
        Set<String> viaIpPort = new HashSet<>();
        for (int i = 0; i < 60; i++) {
            viaIp.add(RawHttp.backendOf(getFrom(client, byIp)));
            viaIpPort.add(RawHttp.backendOf(getFrom(client, byIpPort)));
        }
        assertThat(viaIp).hasSize(1);
        assertThat(viaIpPort).hasSize(3);
    }

    @Test
    void anEndpointAtItsMaxConnectionsIsSkipped() throws Exception {
        HoldingBackend limited = new HoldingBackend();
        toClose.add(limited);
        InetSocketAddress echo = echoBackends(1).get(0);
        InetSocketAddress listen = Ports.loopback(Ports.free());
        String yaml = """
                services:
                  - name: test/limits
                    ports:
                      - name: p
                        listen: ["%s"]
                        scheduler: rr
                        endpoints:
                          - {address: "%s", maxConnections: 2}
                          - "%s"
                """.formatted(Addresses.format(listen), Addresses.format(limited.address()), Addresses.format(echo));
        Balancer balancer = start(Configs.parse(yaml));
        Backend held = balancer.snapshot().lookupTcp(listen).backends().get(0);

        List<Socket> open = new ArrayList<>();
        try {
            for (int i = 0; i < 6; i++) {
                Socket socket = new Socket();
                socket.connect(listen, 5000);
                open.add(socket);
            }
            await().atMost(Duration.ofSeconds(10)).until(() -> limited.accepted() == 2);
            assertThat(held.active()).isEqualTo(2);
            // The four beyond the limit went to the echo endpoint, which answers them.
            await().atMost(Duration.ofSeconds(10)).until(() -> balancer.snapshot().lookupTcp(listen).backends().get(1).active() == 4);
        } finally {
            for (Socket socket : open) {
                socket.close();
            }
        }
        assertThat(limited.accepted()).isEqualTo(2);
    }

    /**
     * 30 requests one after another through a port with {@code scheduler} over {@code backends},
     * each waiting until the balancer has released the previous one's endpoint, so that the
     * counts the scheduler sees are exact. Requests the holding backend takes time out and stay
     * open; the count of those is reported as "held".
     */
    private Map<String, Integer> spread(String scheduler, List<InetSocketAddress> backends, HoldingBackend slow) throws Exception {
        InetSocketAddress listen = Ports.loopback(Ports.free());
        Balancer balancer = Balancer.start(config(listen, scheduler, "", backends), TRANSPORT, 2);
        List<Backend> live = balancer.snapshot().lookupTcp(listen).backends();
        Map<String, Integer> answered = new HashMap<>();
        List<Socket> heldOpen = new ArrayList<>();
        int heldBefore = slow.accepted();
        try {
            for (int i = 0; i < 30; i++) {
                Socket socket = new Socket();
                socket.connect(listen, 5000);
                socket.setSoTimeout(300);
                socket.getOutputStream().write("GET / HTTP/1.0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                try {
                    String response = new String(socket.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                    answered.merge(RawHttp.backendOf(response), 1, Integer::sum);
                    socket.close();
                } catch (SocketTimeoutException stuck) {
                    heldOpen.add(socket);
                }
                int expectedHeld = heldOpen.size();
                await().atMost(Duration.ofSeconds(10)).until(() -> live.get(1).active() == 0 && live.get(2).active() == 0
                        && live.get(0).active() == expectedHeld);
            }
        } finally {
            for (Socket socket : heldOpen) {
                socket.close();
            }
            balancer.close();
        }
        answered.put("held", slow.accepted() - heldBefore);
        return answered;
    }

    private static String getFrom(InetAddress client, InetSocketAddress listen) throws IOException {
        try (Socket socket = new Socket()) {
            socket.bind(new InetSocketAddress(client, 0));
            socket.connect(listen, 5000);
            socket.setSoTimeout(10_000);
            socket.getOutputStream().write("GET / HTTP/1.0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            InputStream in = socket.getInputStream();
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    private static BalancerConfig config(InetSocketAddress listen, String scheduler, String extra,
                                                             List<InetSocketAddress> backends) {
        List<String> keys = new ArrayList<>();
        keys.add("scheduler: " + scheduler);
        if (!extra.isEmpty()) {
            keys.add(extra);
        }
        return Configs.tcp(listen, backends, keys.toArray(String[]::new));
    }

    private static List<String> names(List<InetSocketAddress> backends) {
        return backends.stream().map(Addresses::format).collect(Collectors.toList());
    }

    private List<InetSocketAddress> echoBackends(int count) throws Exception {
        EchoServer server = EchoBackends.start(TRANSPORT, count);
        toClose.add(server);
        return server.addresses();
    }

    private Balancer start(BalancerConfig config) throws Exception {
        Balancer balancer = Balancer.start(config, TRANSPORT, 2);
        toClose.add(balancer);
        return balancer;
    }

    /** A backend that accepts connections and never answers or closes them, like a stuck pod. */
    private static final class HoldingBackend implements AutoCloseable {
        private final ServerSocket server;
        private final List<Socket> held = new CopyOnWriteArrayList<>();
        private final Thread acceptor;

        HoldingBackend() throws IOException {
            server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
            acceptor = new Thread(() -> {
                try {
                    while (true) {
                        held.add(server.accept());
                    }
                } catch (IOException closed) {
                    // close() ends the loop
                }
            }, "holding-backend");
            acceptor.setDaemon(true);
            acceptor.start();
        }

        InetSocketAddress address() {
            return (InetSocketAddress) server.getLocalSocketAddress();
        }

        int accepted() {
            return held.size();
        }

        @Override
        public void close() throws Exception {
            server.close();
            acceptor.join(5000);
            for (Socket socket : held) {
                socket.close();
            }
        }
    }
}

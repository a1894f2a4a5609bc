package dev.l4lb.netty.tcp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.RegisterExtension;

import dev.l4lb.core.config.BalancerConfig;
import dev.l4lb.core.table.Outcome;
import dev.l4lb.core.table.PortCounters;
import dev.l4lb.netty.Balancer;
import dev.l4lb.netty.echo.EchoServer;
import dev.l4lb.netty.testing.Closer;
import dev.l4lb.netty.testing.Configs;
import dev.l4lb.netty.testing.EchoBackends;
import dev.l4lb.netty.testing.NoLeaks;
import dev.l4lb.netty.testing.Ports;
import dev.l4lb.netty.testing.Sockets;
import dev.l4lb.netty.transport.Transport;

/** A port's per-client limits and its rate (issue #18, part 2), seen from client sockets on several loopback addresses. */
@ExtendWith(NoLeaks.class)
class ClientLimitTest {
    private static final Transport TRANSPORT = Transport.select("auto");
    /** How long the rate tests measure, and how far off the configured rate they may be. */
    private static final long MEASURE_NANOS = 5_000_000_000L;
    private static final double TOLERANCE = 0.10;

    @RegisterExtension
    final Closer toClose = new Closer();

    @Test
    void aClientOverItsConnectionsIsResetWhileOthersAreServedAndGetsItsSlotBack() throws Exception {
        InetSocketAddress listen = Ports.loopback(Ports.free());
        Balancer balancer = start(Configs.tcp(listen, echoBackends(), "limits: {maxConnectionsPerClient: 2}"));

        try (Socket first = connectFrom("127.0.0.1", listen); Socket second = connectFrom("127.0.0.1", listen)) {
            Sockets.assertEchoes(first, "a");
            Sockets.assertEchoes(second, "b");
            assertThat(served("127.0.0.1", listen)).as("a third from 127.0.0.1").isFalse();
            try (Socket other = connectFrom("127.0.0.2", listen)) {
                Sockets.assertEchoes(other, "c");
            }
            assertThat(counters(balancer).count(Outcome.REFUSED_CLIENT_CONNECTIONS)).isEqualTo(1);
            second.close();
            // Its slot comes back when one closes.
            await().atMost(Duration.ofSeconds(10)).until(() -> counters(balancer).active() == 1);
            assertThat(served("127.0.0.1", listen)).isTrue();
        }
        assertThat(balancer.snapshot().routes().get(0).limiter().clients()).isEqualTo(2);
        assertThat(balancer.metrics().scrape()).contains(
                "l4lb_refused_total{port=\"p\",protocol=\"TCP\",reason=\"refused_client_connections\",service=\"test/svc\"} 1.0",
                "l4lb_client_table_entries{port=\"p\",protocol=\"TCP\",service=\"test/svc\"} 2.0");
    }

    @Test
    void aClientsRateIsHeldAfterItsBurstWhileAnotherClientIsServed() throws Exception {
        InetSocketAddress listen = Ports.loopback(Ports.free());
        Balancer balancer = start(Configs.tcp(listen, echoBackends(), "limits: {connectionRatePerClient: 20/s}"));

        assertRateHeld(listen, List.of("127.0.0.1"), 20);
        assertThat(served("127.0.0.2", listen)).as("another client has its own bucket").isTrue();
        assertThat(counters(balancer).count(Outcome.REFUSED_CLIENT_RATE)).isPositive();
        assertThat(counters(balancer).count(Outcome.REFUSED_PORT_RATE)).isZero();
    }

    @Test
    void thePortsRateIsHeldOverAllClients() throws Exception {
        InetSocketAddress listen = Ports.loopback(Ports.free());
        Balancer balancer = start(Configs.tcp(listen, echoBackends(), "limits: {connectionRate: 20/s}"));

        assertRateHeld(listen, List.of("127.0.0.1", "127.0.0.2", "127.0.0.3"), 20);
        assertThat(counters(balancer).count(Outcome.REFUSED_PORT_RATE)).isPositive();
        assertThat(counters(balancer).count(Outcome.REFUSED_CLIENT_RATE)).isZero();
    }

    @Test
    void behindATrustedUpstreamTheClientIsTheOneTheHeaderNames() throws Exception {
        InetSocketAddress listen = Ports.loopback(Ports.free());
        Balancer balancer = start(Configs.tcp(listen, echoBackends(), "acceptProxyProtocol: true",
                "trustedUpstreams: [\"127.0.0.0/8\"]", "limits: {maxConnectionsPerClient: 1}"));

        try (Socket first = proxied(listen, "203.0.113.7")) {
            Sockets.assertEchoes(first, "a");
            // The same upstream address, another client: served. The same client again: refused.
            try (Socket other = proxied(listen, "203.0.113.8")) {
                Sockets.assertEchoes(other, "b");
            }
            try (Socket again = proxied(listen, "203.0.113.7")) {
                assertThat(echoes(again)).isFalse();
            }
        }
        assertThat(counters(balancer).count(Outcome.REFUSED_CLIENT_CONNECTIONS)).isEqualTo(1);
    }

    /**
     * Connects from {@code clients} in turn, as fast as answers come, for 5 s: the connections
     * served beyond the first second's burst are the rate's worth of that time, within 10%.
     */
    private static void assertRateHeld(InetSocketAddress listen, List<String> clients, int perSecond) throws IOException {
        int served = 0;
        int attempts = 0;
        long start = System.nanoTime();
        long elapsed;
        while ((elapsed = System.nanoTime() - start) < MEASURE_NANOS) {
            if (served(clients.get(attempts++ % clients.size()), listen)) {
                served++;
            }
        }
        double expected = perSecond * (elapsed / 1e9);
        int afterBurst = served - perSecond;
        System.out.printf("rate %d/s from %s: %d attempts, %d served in %.2f s, %d after the burst (expected %.1f)%n",
                perSecond, clients, attempts, served, elapsed / 1e9, afterBurst, expected);
        assertThat(attempts).as("attempts outnumber the rate several times over").isGreaterThan(2 * (int) expected);
        assertThat((double) afterBurst).as("served after the burst of %d, of %d attempts in %.2f s", perSecond, attempts, elapsed / 1e9)
                .isBetween(expected * (1 - TOLERANCE), expected * (1 + TOLERANCE));
    }

    /** One connection from {@code ip}: true when it echoes, false when the balancer ended it. */
    private static boolean served(String ip, InetSocketAddress listen) throws IOException {
        try (Socket client = connectFrom(ip, listen)) {
            return echoes(client);
        } catch (SocketException reset) {
            if (reset instanceof ConnectException) {
                throw reset; // nothing listening
            }
            return false; // the balancer's reset came back before connect() returned
        }
    }

    private static boolean echoes(Socket client) throws IOException {
        try {
            client.getOutputStream().write('x');
            return Sockets.readOrEnd(client) == 'x';
        } catch (SocketException reset) {
            if (reset instanceof ConnectException) {
                throw reset;
            }
            return false;
        }
    }

    private static Socket connectFrom(String ip, InetSocketAddress listen) throws IOException {
        Socket client = new Socket();
        client.setReuseAddress(true);
        client.setSoLinger(true, 0); // thousands of connections: no TIME_WAIT left behind
        client.bind(new InetSocketAddress(InetAddress.getByName(ip), 0));
        client.connect(listen, 5000);
        client.setSoTimeout(10_000);
        return client;
    }

    /** A connection from a trusted upstream on behalf of {@code client}, its PROXY v1 header sent. */
    private static Socket proxied(InetSocketAddress listen, String client) throws IOException {
        Socket socket = connectFrom("127.0.0.1", listen);
        String header = "PROXY TCP4 " + client + " 127.0.0.1 40000 " + listen.getPort() + "\r\n";
        socket.getOutputStream().write(header.getBytes(StandardCharsets.US_ASCII));
        return socket;
    }

    private static PortCounters counters(Balancer balancer) {
        return balancer.snapshot().routes().get(0).counters();
    }

    private Balancer start(BalancerConfig config) throws Exception {
        return toClose.add(Balancer.start(config, TRANSPORT, 2));
    }

    private List<InetSocketAddress> echoBackends() throws Exception {
        EchoServer server = EchoBackends.start(TRANSPORT, 1);
        toClose.add(server);
        return server.addresses();
    }
}

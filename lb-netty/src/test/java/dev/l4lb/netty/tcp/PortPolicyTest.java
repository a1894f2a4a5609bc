package dev.l4lb.netty.tcp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ConnectException;
import java.net.SocketException;
import java.net.Socket;
import java.time.Duration;
import java.util.List;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.RegisterExtension;

import dev.l4lb.core.config.BalancerConfig;
import dev.l4lb.core.table.Outcome;
import dev.l4lb.core.table.PortCounters;
import dev.l4lb.netty.Balancer;
import dev.l4lb.netty.transport.Transport;
import dev.l4lb.netty.echo.EchoServer;
import dev.l4lb.netty.testing.Closer;
import dev.l4lb.netty.testing.Configs;
import dev.l4lb.netty.testing.EchoBackends;
import dev.l4lb.netty.testing.Sockets;
import dev.l4lb.netty.testing.NoLeaks;
import dev.l4lb.netty.testing.Ports;
import dev.l4lb.netty.testing.RawHttp;

/** The per-port policies a user sets in the config, seen from a client socket and the counters. */
@ExtendWith(NoLeaks.class)
class PortPolicyTest {
    private static final Transport TRANSPORT = Transport.select("auto");
    @RegisterExtension
    final Closer toClose = new Closer();

    @Test
    void aPortWithNoEndpointsClosesAtOnceAndCounts() throws Exception {
        InetSocketAddress listen = Ports.loopback(Ports.free());
        Balancer balancer = start(Configs.tcp(listen, List.of()));

        assertClosedByBalancer(listen);
        assertThat(counters(balancer).count(Outcome.NO_ENDPOINT)).isEqualTo(1);
    }

    @Test
    void connectionsBeyondMaxConnectionsAreClosedAndCounted() throws Exception {
        List<InetSocketAddress> backends = echoBackends(1);
        InetSocketAddress listen = Ports.loopback(Ports.free());
        Balancer balancer = start(Configs.tcp(listen, backends, "maxConnections: 2"));

        try (Socket first = Sockets.connect(listen); Socket second = Sockets.connect(listen)) {
            assertEchoes(first);
            assertEchoes(second);
            assertClosedByBalancer(listen);
            assertThat(counters(balancer).count(Outcome.REFUSED_LIMIT)).isEqualTo(1);
        }
        // Once the two have gone, the port takes connections again.
        await().atMost(Duration.ofSeconds(10)).until(() -> counters(balancer).active() == 0);
        try (Socket again = Sockets.connect(listen)) {
            assertEchoes(again);
        }
    }

    @Test
    void aClientOutsideSourceRangesIsClosedAndCounted() throws Exception {
        List<InetSocketAddress> backends = echoBackends(1);
        InetSocketAddress denied = Ports.loopback(Ports.free());
        InetSocketAddress allowed = Ports.loopback(Ports.free());
        Balancer balancer = start(Configs.parse("""
                services:
                  - name: test/denied
                    ports:
                      - listen: ["127.0.0.1:%d"]
                        sourceRanges: ["10.0.0.0/8", "fd00::/8"]
                        endpoints: ["127.0.0.1:%d"]
                  - name: test/allowed
                    ports:
                      - listen: ["127.0.0.1:%d"]
                        sourceRanges: ["10.0.0.0/8", "127.0.0.0/8"]
                        endpoints: ["127.0.0.1:%d"]
                """.formatted(denied.getPort(), backends.get(0).getPort(), allowed.getPort(), backends.get(0).getPort())));

        assertClosedByBalancer(denied);
        try (Socket client = Sockets.connect(allowed)) {
            assertEchoes(client);
        }
        assertThat(balancer.snapshot().routes().get(0).counters().count(Outcome.DENIED_SOURCE)).isEqualTo(1);
        assertThat(balancer.snapshot().routes().get(1).counters().count(Outcome.DENIED_SOURCE)).isZero();
    }

    @Test
    void anIdleConnectionIsClosedAfterIdleTimeout() throws Exception {
        List<InetSocketAddress> backends = echoBackends(1);
        InetSocketAddress listen = Ports.loopback(Ports.free());
        Balancer balancer = start(Configs.tcp(listen, backends, "idleTimeout: 300ms"));

        try (Socket client = Sockets.connect(listen)) {
            assertEchoes(client);
            // Then silence: the balancer closes both sides; our read sees the end of the stream.
            assertThat(client.getInputStream().read()).isEqualTo(-1);
        }
        await().atMost(Duration.ofSeconds(10)).until(() -> counters(balancer).count(Outcome.IDLE_TIMEOUT) == 1);
    }

    @Test
    void trafficInEitherDirectionKeepsAConnectionOpen() throws Exception {
        List<InetSocketAddress> backends = echoBackends(1);
        InetSocketAddress listen = Ports.loopback(Ports.free());
        Balancer balancer = start(Configs.tcp(listen, backends, "idleTimeout: 1s"));

        try (Socket client = Sockets.connect(listen)) {
            // 2.5 s of traffic, never more than a tenth of the timeout apart.
            for (int i = 0; i < 25; i++) {
                assertEchoes(client);
                Thread.sleep(100);
            }
            assertEchoes(client);
        }
        assertThat(counters(balancer).count(Outcome.IDLE_TIMEOUT)).isZero();
    }

    @Test
    void ipv6ListenersAndEndpointsWork() throws Exception {
        Assumptions.assumeTrue(Ports.ipv6LoopbackUp(), "no IPv6 loopback on this machine");
        InetSocketAddress backendRequest = new InetSocketAddress(InetAddress.getByName("::1"), 0);
        EchoServer server = EchoServer.start(List.of(backendRequest), TRANSPORT, 1);
        toClose.add(server);
        InetSocketAddress listen = new InetSocketAddress(InetAddress.getByName("::1"), Ports.free());
        start(Configs.tcp(listen, server.addresses()));

        String page = RawHttp.get(listen, "/v6");
        assertThat(RawHttp.backendOf(page)).isEqualTo("[::1]:" + server.addresses().get(0).getPort());
        assertThat(page).contains("client_address=::1");
    }

    private static void assertEchoes(Socket client) throws IOException {
        Sockets.assertEchoes(client, "abc");
    }

    /**
     * The balancer accepted the connection and ended it at once (reset or FIN) without relaying
     * anything. The reset may reach us as early as the end of the handshake.
     */
    private static void assertClosedByBalancer(InetSocketAddress address) throws IOException {
        try (Socket client = new Socket()) {
            client.connect(address, 5000); // a ConnectException (nothing listening) fails the test
            client.setSoTimeout(10_000);
            client.getOutputStream().write('x');
            assertThat(Sockets.readOrEnd(client)).isEqualTo(-1);
        } catch (SocketException resetWhileWriting) {
            // closed by the balancer before our byte went out: the outcome the test wants
            if (resetWhileWriting instanceof ConnectException) {
                throw resetWhileWriting;
            }
        }
    }

    private PortCounters counters(Balancer balancer) {
        return balancer.snapshot().routes().get(0).counters();
    }

    private Balancer start(BalancerConfig config) throws Exception {
        Balancer balancer = Balancer.start(config, TRANSPORT, 2);
        toClose.add(balancer);
        return balancer;
    }

    private List<InetSocketAddress> echoBackends(int count) throws Exception {
        EchoServer server = EchoBackends.start(TRANSPORT, count);
        toClose.add(server);
        return server.addresses();
    }
}

package dev.l4lb.netty.health;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

import com.sun.net.httpserver.HttpServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.RegisterExtension;

import dev.l4lb.core.config.BalancerConfig;
import dev.l4lb.core.health.EndpointHealth;
import dev.l4lb.core.health.HealthState;
import dev.l4lb.core.model.Addresses;
import dev.l4lb.core.sched.Backend;
import dev.l4lb.core.table.Outcome;
import dev.l4lb.core.table.Route;
import dev.l4lb.netty.Balancer;
import dev.l4lb.netty.echo.EchoServer;
import dev.l4lb.netty.testing.Closer;
import dev.l4lb.netty.testing.Configs;
import dev.l4lb.netty.testing.NoLeaks;
import dev.l4lb.netty.testing.Ports;
import dev.l4lb.netty.testing.RawHttp;
import dev.l4lb.netty.transport.Transport;

/**
 * Active checks and outlier detection end to end: real backends on loopback that die, come back,
 * answer 500 or refuse; the balancer's checks and its real clients' connects take them out of
 * service and bring them back, and clients are served by the others meanwhile.
 */
@ExtendWith(NoLeaks.class)
class HealthCheckTest {
    private static final Transport TRANSPORT = Transport.select("auto");
    private static final Duration SOON = Duration.ofSeconds(10);
    @RegisterExtension
    final Closer toClose = new Closer();

    /** The checker probes on the data plane's transport: on each of them. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("dev.l4lb.netty.testing.Transports#available")
    void aKilledBackendGoesDownAfterFallAndComesBackAfterRise(Transport transport) throws Exception {
        List<InetSocketAddress> backends = List.of(Ports.loopback(Ports.free()), Ports.loopback(Ports.free()),
                Ports.loopback(Ports.free()));
        List<EchoServer> servers = new ArrayList<>();
        for (InetSocketAddress backend : backends) {
            servers.add(toClose.add(EchoServer.start(List.of(backend), transport, 1)));
        }
        InetSocketAddress listen = Ports.loopback(Ports.free());
        Balancer lb = toClose.add(Balancer.start(Configs.tcp(listen, backends,
                "healthCheck: {type: tcp, interval: 200ms, timeout: 200ms, fall: 2, rise: 2}"), transport, 1));
        await().atMost(SOON).until(() -> lb.healthChecker().targets() == 3);
        EndpointHealth third = health(lb, backends.get(2));
        await().atMost(SOON).until(() -> third.checksPassed() >= 2);
        assertThat(third.state()).isEqualTo(HealthState.UP);

        servers.get(2).close(); // its port refuses from now on
        Instant killed = Instant.now();
        await().atMost(SOON).until(() -> third.state() == HealthState.DOWN);
        // fall (2) probes at interval (200 ms), each with up to 5% less and a 10 ms tick: not before ~380 ms
        assertThat(Duration.between(killed, Instant.now())).isGreaterThan(Duration.ofMillis(150));
        assertThat(third.lastFailure()).containsIgnoringCase("refused");
        long failuresBefore = backend(lb, backends.get(2)).counters().connectFailures();
        Set<String> answered = new HashSet<>();
        for (int i = 0; i < 30; i++) {
            answered.add(RawHttp.backendOf(RawHttp.get(listen, "/")));
        }
        assertThat(answered).containsExactlyInAnyOrder(name(backends.get(0)), name(backends.get(1)));
        assertThat(backend(lb, backends.get(2)).counters().connectFailures())
                .as("a down endpoint is not tried: no connect to it failed").isEqualTo(failuresBefore);

        toClose.add(EchoServer.start(List.of(backends.get(2)), transport, 1));
        await().atMost(SOON).until(() -> third.state() == HealthState.UP);
        Set<String> after = new HashSet<>();
        for (int i = 0; i < 30; i++) {
            after.add(RawHttp.backendOf(RawHttp.get(listen, "/")));
        }
        assertThat(after).contains(name(backends.get(2)));
    }

    @Test
    void anHttpCheckOnAnotherPortGoesDownOnA500AndUpOnA200() throws Exception {
        InetSocketAddress backend = Ports.loopback(Ports.free());
        toClose.add(EchoServer.start(List.of(backend), TRANSPORT, 1));
        AtomicInteger status = new AtomicInteger(200);
        List<String> requests = new CopyOnWriteArrayList<>();
        HttpServer checks = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 16);
        checks.createContext("/", exchange -> {
            requests.add(exchange.getRequestMethod() + " " + exchange.getRequestURI() + " " + exchange.getRequestHeaders().getFirst("Host"));
            exchange.sendResponseHeaders(status.get(), -1);
            exchange.close();
        });
        checks.start();
        toClose.add(() -> checks.stop(0));
        int checkPort = checks.getAddress().getPort();
        InetSocketAddress listen = Ports.loopback(Ports.free());
        Balancer lb = start(Configs.tcp(listen, List.of(backend),
                "healthCheck: {type: http, port: " + checkPort + ", path: /healthz, expectStatus: \"200-299\","
                        + " interval: 300ms, timeout: 300ms, fall: 2, rise: 1}"));
        EndpointHealth health = health(lb, backend);
        await().atMost(SOON).until(() -> health.checksPassed() >= 1);
        assertThat(requests.get(0)).isEqualTo("GET /healthz 127.0.0.1:" + checkPort);

        status.set(500);
        await().atMost(SOON).until(() -> health.state() == HealthState.DOWN);
        assertThat(health.lastFailure()).isEqualTo("HTTP status 500, expected 200-299");
        status.set(204);
        await().atMost(SOON).until(() -> health.state() == HealthState.UP);
    }

    @Test
    void aCheckSendsTheLocalProxyHeaderFirstWhenAsked() throws Exception {
        for (String version : List.of("v1", "v2")) {
            try (ServerSocket backend = new ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress())) {
                InetSocketAddress address = (InetSocketAddress) backend.getLocalSocketAddress();
                InetSocketAddress listen = Ports.loopback(Ports.free());
                Balancer lb = start(Configs.tcp(listen, List.of(address), "proxyProtocol: " + version,
                        "healthCheck: {type: tcp, sendProxyProtocol: true, interval: 200ms}"));
                backend.setSoTimeout(10_000);
                byte[] first;
                try (Socket probe = backend.accept()) {
                    // Exactly the header's length: the probe resets the connection once it is written.
                    first = probe.getInputStream().readNBytes(version.equals("v1") ? 15 : 16);
                }
                if (version.equals("v1")) {
                    assertThat(new String(first, StandardCharsets.US_ASCII)).isEqualTo("PROXY UNKNOWN\r\n");
                } else {
                    // The v2 signature, then version 2 with the LOCAL command (0x20), family UNSPEC, no addresses.
                    assertThat(first).startsWith(0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A,
                            0x20, 0x00, 0x00, 0x00);
                }
                lb.close();
            }
        }
    }

    @Test
    void outlierDetectionEjectsAnEndpointThatRefusesAndDoublesTheTimeOnRepeat() throws Exception {
        InetSocketAddress live = Ports.loopback(Ports.free());
        toClose.add(EchoServer.start(List.of(live), TRANSPORT, 1));
        InetSocketAddress dead = Ports.loopback(Ports.free()); // nothing listens: every connect is refused
        InetSocketAddress listen = Ports.loopback(Ports.free());
        Balancer lb = start(Configs.tcp(listen, List.of(dead, live),
                "outlierDetection: {consecutiveConnectFailures: 3, baseEjectionTime: 1s, maxEjectionPercent: 50}"));
        EndpointHealth health = health(lb, dead);
        Backend deadBackend = backend(lb, dead);
        for (int i = 0; i < 10; i++) {
            assertThat(RawHttp.backendOf(RawHttp.get(listen, "/"))).isEqualTo(name(live)); // each retried on the live one
        }
        assertThat(health.state()).isEqualTo(HealthState.EJECTED);
        assertThat(deadBackend.counters().connectFailures()).as("ejected at the third failure in a row").isEqualTo(3);
        Instant until = health.ejectedUntil();
        assertThat(Duration.between(Instant.now(), until)).isBetween(Duration.ofMillis(200), Duration.ofSeconds(1));

        await().atMost(SOON).until(() -> health.state() == HealthState.UP);
        for (int i = 0; i < 10; i++) {
            RawHttp.get(listen, "/");
        }
        assertThat(health.state()).isEqualTo(HealthState.EJECTED);
        assertThat(health.ejections()).isEqualTo(2);
        assertThat(Duration.between(Instant.now(), health.ejectedUntil()))
                .as("the second ejection in a row lasts twice the base").isGreaterThan(Duration.ofMillis(1500));
    }

    @Test
    void outlierDetectionNeverEjectsMoreThanItsShare() throws Exception {
        InetSocketAddress live = Ports.loopback(Ports.free());
        toClose.add(EchoServer.start(List.of(live), TRANSPORT, 1));
        List<InetSocketAddress> endpoints = List.of(Ports.loopback(Ports.free()), Ports.loopback(Ports.free()),
                Ports.loopback(Ports.free()), live);
        InetSocketAddress listen = Ports.loopback(Ports.free());
        Balancer lb = start(Configs.tcp(listen, endpoints,
                "outlierDetection: {consecutiveConnectFailures: 2, baseEjectionTime: 60s, maxEjectionPercent: 50}"));
        for (int i = 0; i < 40; i++) {
            assertThat(RawHttp.backendOf(RawHttp.get(listen, "/"))).isEqualTo(name(live));
        }
        long ejected = endpoints.stream().filter(e -> health(lb, e).state() == HealthState.EJECTED).count();
        assertThat(ejected).as("50% of 4 endpoints").isEqualTo(2);
    }

    @Test
    void whenEveryEndpointIsDownThePortFailsOpenUnlessToldNotTo() throws Exception {
        List<InetSocketAddress> backends = List.of(Ports.loopback(Ports.free()), Ports.loopback(Ports.free()));
        toClose.add(EchoServer.start(backends, TRANSPORT, 1));
        int closedPort = Ports.free(); // the check asks a port nobody listens on: every endpoint goes down
        InetSocketAddress listen = Ports.loopback(Ports.free());
        Balancer lb = start(Configs.tcp(listen, backends,
                "healthCheck: {type: tcp, port: " + closedPort + ", interval: 200ms, fall: 1}"));
        Route route = lb.snapshot().routes().get(0);
        await().atMost(SOON).until(() -> route.health().failingOpen());
        assertThat(backends).allSatisfy(b -> assertThat(health(lb, b).state()).isEqualTo(HealthState.DOWN));
        assertThat(route.health().failOpenEntered()).isEqualTo(1);
        Set<String> answered = new HashSet<>();
        for (int i = 0; i < 10; i++) {
            answered.add(RawHttp.backendOf(RawHttp.get(listen, "/")));
        }
        assertThat(answered).as("routed as if all were up").hasSize(2);

        InetSocketAddress strictListen = Ports.loopback(Ports.free());
        Balancer strict = start(Configs.tcp(strictListen, backends,
                "healthCheck: {type: tcp, port: " + closedPort + ", interval: 200ms, fall: 1}", "failOpen: false"));
        Route strictRoute = strict.snapshot().routes().get(0);
        await().atMost(SOON).until(() -> strictRoute.health().allOut());
        assertThat(strictRoute.health().failingOpen()).isFalse();
        String reply;
        try {
            reply = RawHttp.get(strictListen, "/");
        } catch (IOException reset) {
            reply = "";
        }
        assertThat(reply).as("refused: closed without an answer").isEmpty();
        await().atMost(SOON).until(() -> strictRoute.counters().count(Outcome.NO_ENDPOINT) == 1);
    }

    @Test
    void onAUdpPortOutlierDetectionCountsIcmpPortUnreachable() throws Exception {
        InetSocketAddress dead = Ports.freeUdp(); // nothing listens: the kernel answers ICMP port unreachable
        EchoServer live = toClose.add(EchoServer.startUdp(List.of(Ports.loopback(0)), TRANSPORT, 1));
        InetSocketAddress listen = Ports.freeUdp();
        Balancer lb = start(Configs.parse("""
                services:
                  - name: test/dns
                    ports:
                      - protocol: UDP
                        listen: ["%s"]
                        outlierDetection: {consecutiveConnectFailures: 2, baseEjectionTime: 60s, maxEjectionPercent: 50}
                        endpoints: ["%s", "%s"]
                """.formatted(name(listen), name(dead), name(live.addresses().get(0)))));
        Route route = lb.snapshot().routes().get(0);
        for (int query = 0; query < 40; query++) {
            // A new client port per query, as DNS clients do: each query a session of its own.
            try (java.net.DatagramSocket client = new java.net.DatagramSocket(new InetSocketAddress("127.0.0.1", 0))) {
                client.setSoTimeout(5000);
                byte[] text = ("query " + query).getBytes(StandardCharsets.US_ASCII);
                client.send(new java.net.DatagramPacket(text, text.length, listen));
                java.net.DatagramPacket answer = new java.net.DatagramPacket(new byte[512], 512);
                client.receive(answer);
                assertThat(new String(answer.getData(), 0, answer.getLength(), StandardCharsets.US_ASCII))
                        .isEqualTo("query " + query);
            }
        }
        assertThat(health(lb, dead).state()).isEqualTo(HealthState.EJECTED);
        assertThat(route.counters().count(Outcome.UNREACHABLE)).as("two unreachables in a row, then no more tries")
                .isEqualTo(2);
    }

    private Balancer start(BalancerConfig config) throws Exception {
        return toClose.add(Balancer.start(config, TRANSPORT, 1));
    }

    private static Backend backend(Balancer lb, InetSocketAddress address) {
        for (Route route : lb.snapshot().routes()) {
            for (Backend backend : route.backends()) {
                if (backend.address().equals(address)) {
                    return backend;
                }
            }
        }
        throw new AssertionError("no endpoint " + address);
    }

    private static EndpointHealth health(Balancer lb, InetSocketAddress address) {
        return backend(lb, address).counters().health();
    }

    private static String name(InetSocketAddress address) {
        return Addresses.format(address);
    }
}

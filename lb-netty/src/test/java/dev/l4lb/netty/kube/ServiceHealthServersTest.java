package dev.l4lb.netty.kube;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;

import io.netty.channel.Channel;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.RegisterExtension;

import dev.l4lb.core.kube.ServiceHealth;
import dev.l4lb.netty.testing.AdminHttp;
import dev.l4lb.netty.testing.Closer;
import dev.l4lb.netty.testing.NoLeaks;
import dev.l4lb.netty.testing.Ports;

/** The healthCheckNodePort servers over real HTTP on loopback, against kube-proxy's answers. */
@ExtendWith(NoLeaks.class)
class ServiceHealthServersTest {
    private static final InetAddress LOOPBACK = InetAddress.getLoopbackAddress();

    @RegisterExtension
    final Closer toClose = new Closer();

    private final AtomicBoolean proxierHealthy = new AtomicBoolean(true);
    private ServiceHealthServers servers;

    @BeforeEach
    void start() {
        servers = toClose.add(new ServiceHealthServers(LOOPBACK, proxierHealthy::get));
    }

    @Test
    void answersInKubeProxysFormat() {
        int[] ports = distinctFreePorts(2);
        servers.sync(List.of(new ServiceHealth("shop", "web", ports[0], 2), new ServiceHealth("shop", "batch", ports[1], 0)));

        HttpResponse<String> local = get(ports[0], "/");
        assertThat(local.statusCode()).isEqualTo(200);
        assertThat(local.headers().firstValue("content-type")).hasValue("application/json");
        assertThat(local.headers().firstValue("x-content-type-options")).hasValue("nosniff");
        assertThat(local.headers().firstValue("x-load-balancing-endpoint-weight")).hasValue("2");
        // Byte for byte what kube-proxy's hcHandler prints.
        assertThat(local.body()).isEqualTo("{\n\t\"service\": {\n\t\t\"namespace\": \"shop\",\n\t\t\"name\": \"web\"\n\t},\n"
                + "\t\"localEndpoints\": 2,\n\t\"serviceProxyHealthy\": true\n}");

        HttpResponse<String> none = get(ports[1], "/");
        assertThat(none.statusCode()).isEqualTo(503);
        assertThat(none.headers().firstValue("content-type")).hasValue("application/json");
        assertThat(none.headers().firstValue("x-content-type-options")).hasValue("nosniff");
        assertThat(none.headers().firstValue("x-load-balancing-endpoint-weight")).hasValue("0");
        assertThat(AdminHttp.json(none).path("service").path("name").asText()).isEqualTo("batch");
        assertThat(AdminHttp.json(none).path("localEndpoints").asInt()).isZero();
        assertThat(AdminHttp.json(none).path("serviceProxyHealthy").asBoolean()).isTrue();

        // kube-proxy's handler serves every path the same; cloud health checks are set up with assorted ones.
        assertThat(get(ports[0], "/healthz").body()).isEqualTo(local.body());
    }

    /**
     * With --nodeport-addresses, kube-proxy's health servers listen on each node address in them:
     * every such address answers, others do not; a port that one address cannot take is bound on
     * none, and tried again at the next sync.
     */
    @Test
    void serversListenOnEachGivenAddressAndOnAllOrNone() throws Exception {
        InetAddress first = InetAddress.getByName("127.0.0.31");
        InetAddress second = InetAddress.getByName("127.0.0.32");
        ServiceHealthServers perAddress = toClose.add(new ServiceHealthServers(List.of(first, second), proxierHealthy::get));
        int[] ports = distinctFreePorts(2);
        int port = ports[0];
        perAddress.sync(List.of(new ServiceHealth("shop", "web", port, 1)));

        assertThat(AdminHttp.get(new InetSocketAddress(first, port), "/").statusCode()).isEqualTo(200);
        assertThat(AdminHttp.get(new InetSocketAddress(second, port), "/").statusCode()).isEqualTo(200);
        assertThatThrownBy(() -> new Socket(InetAddress.getByName("127.0.0.33"), port).close()).isInstanceOf(ConnectException.class);

        int other = ports[1];
        try (java.net.ServerSocket squatter = new java.net.ServerSocket(other, 1, second)) {
            perAddress.sync(List.of(new ServiceHealth("shop", "web", port, 1), new ServiceHealth("shop", "api", other, 1)));
            assertThat(perAddress.ports()).containsExactly(port);
            // The first address's server was bound, then closed with the port (NIO may finish the close a moment later).
            org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(5)).until(() -> {
                try (Socket probe = new Socket(first, other)) {
                    return false;
                } catch (ConnectException refused) {
                    return true;
                }
            });
        }
        perAddress.sync(List.of(new ServiceHealth("shop", "web", port, 1), new ServiceHealth("shop", "api", other, 1)));
        assertThat(AdminHttp.get(new InetSocketAddress(first, other), "/").statusCode()).isEqualTo(200);
        assertThat(AdminHttp.get(new InetSocketAddress(second, other), "/").statusCode()).isEqualTo(200);
    }

    @Test
    void aStaleProxierAnswers503EvenWithLocalEndpoints() {
        int port = Ports.free();
        servers.sync(List.of(new ServiceHealth("shop", "web", port, 2)));
        proxierHealthy.set(false);

        HttpResponse<String> response = get(port, "/");
        assertThat(response.statusCode()).isEqualTo(503);
        assertThat(AdminHttp.json(response).path("localEndpoints").asInt()).isEqualTo(2);
        assertThat(AdminHttp.json(response).path("serviceProxyHealthy").asBoolean()).isFalse();
    }

    @Test
    void aSyncWithoutAServiceClosesItsPort() {
        int[] ports = distinctFreePorts(2);
        servers.sync(List.of(new ServiceHealth("shop", "web", ports[0], 1), new ServiceHealth("shop", "batch", ports[1], 1)));
        assertThat(get(ports[0], "/").statusCode()).isEqualTo(200);

        servers.sync(List.of(new ServiceHealth("shop", "batch", ports[1], 1)));

        assertThatThrownBy(() -> new Socket(LOOPBACK, ports[0]).close()).isInstanceOf(ConnectException.class);
        assertThat(servers.ports()).containsExactly(ports[1]);
        assertThat(get(ports[1], "/").statusCode()).isEqualTo(200);
    }

    @Test
    void aNewCountIsAnsweredWithoutRebinding() {
        int port = Ports.free();
        servers.sync(List.of(new ServiceHealth("shop", "web", port, 1)));
        Channel listener = servers.listener(port);
        assertThat(get(port, "/").statusCode()).isEqualTo(200);

        servers.sync(List.of(new ServiceHealth("shop", "web", port, 0)));
        HttpResponse<String> drained = get(port, "/");
        assertThat(drained.statusCode()).isEqualTo(503);
        assertThat(AdminHttp.json(drained).path("localEndpoints").asInt()).isZero();

        servers.sync(List.of(new ServiceHealth("shop", "web", port, 3)));
        HttpResponse<String> back = get(port, "/");
        assertThat(back.statusCode()).isEqualTo(200);
        assertThat(back.headers().firstValue("x-load-balancing-endpoint-weight")).hasValue("3");

        assertThat(servers.listener(port)).isSameAs(listener);
        assertThat(listener.isActive()).isTrue();
    }

    @Test
    void aTakenPortDoesNotStopTheOthersAndIsBoundOnceFree() throws Exception {
        int[] ports = distinctFreePorts(2);
        int taken = ports[0];
        int free = ports[1];
        List<ServiceHealth> services = List.of(new ServiceHealth("shop", "web", taken, 1), new ServiceHealth("shop", "batch", free, 1));
        String warnings;
        try (ServerSocket squatter = new ServerSocket(taken, 1, LOOPBACK)) {
            warnings = stderrOf(() -> {
                servers.sync(services);
                servers.sync(services); // tried again, not logged again
            });
            assertThat(servers.ports()).containsExactly(free);
            assertThat(get(free, "/").statusCode()).isEqualTo(200);
        }
        assertThat(warnings.lines().filter(line -> line.contains("WARN") && line.contains("shop/web")))
                .singleElement().asString().contains(":" + taken, "already in use");

        servers.sync(services);

        assertThat(servers.ports()).containsExactlyInAnyOrder(taken, free);
        HttpResponse<String> now = get(taken, "/");
        assertThat(now.statusCode()).isEqualTo(200);
        assertThat(AdminHttp.json(now).path("service").path("name").asText()).isEqualTo("web");
    }

    private static HttpResponse<String> get(int port, String path) {
        return AdminHttp.get(new InetSocketAddress(LOOPBACK, port), path);
    }

    private static int[] distinctFreePorts(int count) {
        Set<Integer> ports = new LinkedHashSet<>();
        while (ports.size() < count) {
            ports.add(Ports.free());
        }
        return ports.stream().mapToInt(Integer::intValue).toArray();
    }

    /** What {@code action} logged: slf4j-simple writes to whatever System.err is at the time. */
    private static String stderrOf(Runnable action) {
        PrintStream original = System.err;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
        try {
            action.run();
        } finally {
            System.setErr(original);
        }
        return captured.toString(StandardCharsets.UTF_8);
    }
}

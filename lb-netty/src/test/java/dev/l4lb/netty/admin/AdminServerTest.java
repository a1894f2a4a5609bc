package dev.l4lb.netty.admin;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import tools.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import dev.l4lb.core.config.AdminConfig;
import dev.l4lb.core.config.BalancerConfig;
import dev.l4lb.core.config.ConfigLoader;
import dev.l4lb.core.model.Addresses;
import dev.l4lb.netty.Balancer;
import dev.l4lb.netty.ConfigReloader;
import dev.l4lb.netty.transport.Transport;
import dev.l4lb.netty.cli.Main;
import dev.l4lb.netty.echo.EchoServer;
import dev.l4lb.netty.testing.AdminHttp;
import dev.l4lb.netty.testing.Closer;
import dev.l4lb.netty.testing.EchoBackends;
import dev.l4lb.netty.testing.NoLeaks;
import dev.l4lb.netty.testing.Ports;
import dev.l4lb.netty.testing.Sockets;

/** The admin server against a running balancer with real traffic: what kube-proxy users and scrapers read. */
@ExtendWith(NoLeaks.class)
class AdminServerTest {
    private static final Transport TRANSPORT = Transport.select("auto");
    private static final AdminConfig ANY_PORTS = new AdminConfig(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0),
            new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));

    @RegisterExtension
    final Closer toClose = new Closer();
    @TempDir
    Path dir;

    private InetSocketAddress listen;
    private List<InetSocketAddress> live;
    private InetSocketAddress dead;
    private Balancer balancer;
    private AdminServer admin;

    @Test
    void metricsModeAndHealthAnswerAsKubeProxysDo() throws Exception {
        start(null);

        assertThat(AdminHttp.get(admin.metricsAddress(), "/proxyMode").body()).isEqualTo("userspace");
        for (String path : List.of("/healthz", "/livez")) {
            HttpResponse<String> health = AdminHttp.get(admin.healthAddress(), path);
            assertThat(health.statusCode()).isEqualTo(200);
            assertThat(health.headers().firstValue("content-type")).hasValue("application/json");
            assertThat(health.headers().firstValue("x-content-type-options")).hasValue("nosniff");
            JsonNode body = AdminHttp.json(health);
            assertThat(body.path("lastUpdated").asText()).isEqualTo(balancer.lastUpdated().toString());
            assertThat(body.path("currentTime").asText()).isNotEmpty();
        }
        // The health address serves health only, as kube-proxy's does.
        assertThat(AdminHttp.get(admin.healthAddress(), "/metrics").statusCode()).isEqualTo(404);
        HttpResponse<String> metrics = AdminHttp.get(admin.metricsAddress(), "/metrics");
        assertThat(metrics.statusCode()).isEqualTo(200);
        assertThat(metrics.headers().firstValue("content-type")).hasValue("text/plain; version=0.0.4; charset=utf-8");
        assertThat(metrics.body()).contains("jvm_memory_used_bytes", "netty_allocator_memory_used",
                "l4lb_sync_proxy_rules_duration_seconds_bucket", "l4lb_sync_proxy_rules_last_timestamp_seconds",
                "process_files_open_files");
        assertThat(AdminHttp.get(admin.metricsAddress(), "/nothing-here").statusCode()).isEqualTo(404);
        assertThat(AdminHttp.post(admin.metricsAddress(), "/metrics").statusCode()).isEqualTo(405);
    }

    @Test
    void theApiShowsTheServerNamesOfAPortRoutedByName() throws Exception {
        start("serverNames: [\"Shop.example\", \"*.shop.example\", \"*\"]");
        assertThat(services().path("services").get(0).path("serverNames"))
                .extracting(JsonNode::asText).containsExactly("shop.example", "*.shop.example", "*");
        assertThat(AdminHttp.get(admin.metricsAddress(), "/metrics").body())
                .contains("l4lb_tls_hello_rejected_total{listener=\"" + Addresses.format(listen) + "\",reason=\"no_match\"} 0");
    }

    @Test
    void countersFollowTheTrafficInTheApiAndInPrometheus() throws Exception {
        start(null);
        // Four round trips of known sizes; the dead endpoint's turns fail over to a live one.
        long sent = 0;
        for (int i = 0; i < 4; i++) {
            try (Socket client = Sockets.connect(listen)) {
                String text = "hello " + "x".repeat(i * 100);
                Sockets.assertEchoes(client, text);
                sent += text.length();
            }
        }
        long bytes = sent;
        await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
            JsonNode port = services().path("services").get(0);
            assertThat(port.path("active").asInt()).isZero();
            assertThat(port.path("connections").asLong()).isEqualTo(4);
            assertThat(port.path("outcomes").path("ok").asLong()).isEqualTo(4);
            assertThat(port.path("bytesIn").asLong()).isEqualTo(bytes);
            assertThat(port.path("bytesOut").asLong()).isEqualTo(bytes);
        });
        JsonNode port = services().path("services").get(0);
        assertThat(port.path("service").asText()).isEqualTo("test/svc");
        assertThat(port.path("forward").asText()).isEqualTo("Proxy");
        assertThat(port.path("listen").get(0).asText()).isEqualTo(Addresses.format(listen));
        JsonNode endpoints = port.path("endpoints");
        assertThat(endpoints).hasSize(3);
        long established = 0;
        for (JsonNode endpoint : endpoints) {
            established += endpoint.path("connections").asLong();
            assertThat(endpoint.path("state").asText()).isEqualTo("up");
            assertThat(endpoint.path("weight").asInt()).isEqualTo(1);
        }
        assertThat(established).isEqualTo(4);
        JsonNode deadOne = endpoints.get(2);
        assertThat(deadOne.path("address").asText()).isEqualTo(Addresses.format(dead));
        assertThat(deadOne.path("connections").asLong()).isZero();
        assertThat(deadOne.path("connectFailures").asLong()).isPositive();
        assertThat(deadOne.path("lastError").path("message").asText()).containsIgnoringCase("refused");
        assertThat(endpoints.get(0).path("lastError").isNull()).isTrue();

        String metrics = AdminHttp.get(admin.metricsAddress(), "/metrics").body();
        String portLabels = "port=\"p\",protocol=\"TCP\",service=\"test/svc\"";
        assertThat(metrics).contains(
                "l4lb_port_connections_total{outcome=\"ok\"," + portLabels + "} 4.0",
                "l4lb_port_bytes_total{direction=\"in\"," + portLabels + "} " + bytes + ".0",
                "l4lb_port_bytes_total{direction=\"out\"," + portLabels + "} " + bytes + ".0",
                "l4lb_port_connections_active{" + portLabels + "} 0.0");
        String deadLabels = "endpoint=\"" + Addresses.format(dead) + "\"," + portLabels;
        assertThat(metrics).contains("l4lb_endpoint_connections_total{" + deadLabels + "} 0.0");
        assertThat(metrics).doesNotContain("l4lb_endpoint_connect_failures_total{" + deadLabels + "} 0.0");
        long latencyCount = 0;
        for (InetSocketAddress endpoint : live) {
            String labels = "endpoint=\"" + Addresses.format(endpoint) + "\"," + portLabels;
            latencyCount += valueOf(metrics, "l4lb_endpoint_connect_latency_seconds_count{" + labels + "}");
        }
        assertThat(latencyCount).isEqualTo(4);

        // A connection held open shows as active on the port and on its endpoint.
        try (Socket held = Sockets.connect(listen)) {
            Sockets.assertEchoes(held, "held");
            await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> {
                JsonNode now = services().path("services").get(0);
                assertThat(now.path("active").asInt()).isEqualTo(1);
                int endpointActive = 0;
                for (JsonNode endpoint : now.path("endpoints")) {
                    endpointActive += endpoint.path("active").asInt();
                }
                assertThat(endpointActive).isEqualTo(1);
            });
        }
    }

    @Test
    void ratesAreTheChangeBetweenTwoSamples() throws Exception {
        start(null);
        for (int i = 0; i < 10; i++) {
            try (Socket client = Sockets.connect(listen)) {
                Sockets.assertEchoes(client, "rate");
            }
        }
        // The estimator samples every 2 s: within two samples the connections show as a rate.
        await().atMost(Duration.ofSeconds(10)).untilAsserted(() ->
                assertThat(services().path("services").get(0).path("rate").path("connections").asDouble()).isPositive());
        // With no traffic the next sample brings it back to zero.
        await().atMost(Duration.ofSeconds(10)).untilAsserted(() ->
                assertThat(services().path("services").get(0).path("rate").path("connections").asDouble()).isZero());
    }

    @Test
    void reloadAnswersWhatChangedOrEveryProblemAndTheOldConfigStays() throws Exception {
        Path file = dir.resolve("l4lb.yaml");
        live = startBackends();
        listen = Ports.loopback(Ports.free());
        dead = Ports.loopback(Ports.free());
        Files.writeString(file, yaml(listen, List.of(live.get(0), dead)));
        balancer = toClose.add(Balancer.start(ConfigLoader.load(file), TRANSPORT, 1));
        admin = toClose.add(AdminServer.start(ANY_PORTS, balancer, new ConfigReloader(file, balancer)));

        Files.writeString(file, yaml(listen, List.of(live.get(0), live.get(1))));
        HttpResponse<String> applied = AdminHttp.post(admin.metricsAddress(), "/api/v1/reload");
        assertThat(applied.statusCode()).isEqualTo(200);
        JsonNode answer = AdminHttp.json(applied);
        assertThat(answer.path("applied").asBoolean()).isTrue();
        assertThat(answer.path("changes").path("endpointsAdded").get(0).asText())
                .isEqualTo("test/svc:p/TCP " + Addresses.format(live.get(1)));
        assertThat(answer.path("changes").path("endpointsRemoved").get(0).asText())
                .isEqualTo("test/svc:p/TCP " + Addresses.format(dead));
        assertThat(answer.path("errors")).isEmpty();
        String metrics = AdminHttp.get(admin.metricsAddress(), "/metrics").body();
        assertThat(metrics).doesNotContain("endpoint=\"" + Addresses.format(dead) + "\"")
                .contains("endpoint=\"" + Addresses.format(live.get(1)) + "\"")
                .contains("l4lb_config_reloads_total{result=\"applied\"} 1.0");

        Files.writeString(file, """
                services:
                  - name: test/svc
                    ports:
                      - name: p
                        listen: ["%s"]
                        schedular: rr
                        endpoints: ["127.0.0.300:80"]
                """.formatted(Addresses.format(listen)));
        HttpResponse<String> rejected = AdminHttp.post(admin.metricsAddress(), "/api/v1/reload");
        assertThat(rejected.statusCode()).isEqualTo(422);
        JsonNode problems = AdminHttp.json(rejected);
        assertThat(problems.path("applied").asBoolean()).isFalse();
        assertThat(problems.path("errors")).hasSize(2);
        assertThat(problems.path("errors").get(0).asText()).contains("l4lb.yaml", "services[0].ports[0].schedular");
        assertThat(problems.path("errors").get(1).asText()).contains("services[0].ports[0].endpoints[0]", "127.0.0.300");
        // Still serving the last good config.
        try (Socket client = Sockets.connect(listen)) {
            Sockets.assertEchoes(client, "still here");
        }
        assertThat(services().path("services").get(0).path("endpoints")).hasSize(2);
        assertThat(AdminHttp.get(admin.metricsAddress(), "/metrics").body())
                .contains("l4lb_config_reloads_total{result=\"rejected\"} 1.0");
        assertThat(AdminHttp.get(admin.metricsAddress(), "/api/v1/reload").statusCode()).isEqualTo(405);
    }

    /**
     * Issue #21: idle connections once held the admin server's descriptors without bound. Now it
     * holds at most {@link AdminConnections#MAX} and resets the rest at once, and a held one that
     * does not deliver a whole request in {@link RequestDeadline#SECONDS} (idle, or trickling a
     * byte at a time) is closed, so a probe gets in again while the flood is still connected.
     */
    @Test
    void aFloodOfIdleOrTricklingConnectionsHoldsFewDescriptorsAndClearsWithinTheRequestTimeout() throws Exception {
        start(null);
        InetSocketAddress address = admin.metricsAddress();
        List<Socket> held = new ArrayList<>();
        try {
            Socket trickler = new Socket();
            trickler.connect(address, 5_000);
            held.add(trickler);
            for (int i = 1; i < AdminConnections.MAX; i++) {
                Socket idle = new Socket();
                idle.connect(address, 5_000);
                held.add(idle);
            }
            long start = System.nanoTime();
            // Past the limit: reset or closed at once, whichever the other 100 connections meet.
            List<Socket> refused = new ArrayList<>();
            for (int i = 0; i < 100; i++) {
                Socket extra = new Socket();
                try {
                    extra.connect(address, 5_000);
                    extra.setSoTimeout(5_000);
                    refused.add(extra);
                } catch (java.net.SocketException resetAlready) {
                    extra.close(); // reset before connect() had even returned: closed at once indeed
                }
            }
            for (Socket extra : refused) {
                assertThat(readsEndOrReset(extra)).as("a connection over the limit is closed at once").isTrue();
                extra.close();
            }
            // The trickler sends a request a byte every 200 ms: never whole within the deadline.
            byte[] slow = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
            trickler.setSoTimeout(200);
            boolean closed = false;
            for (int i = 0; !closed && System.nanoTime() - start < Duration.ofSeconds(RequestDeadline.SECONDS + 5).toNanos(); i++) {
                try {
                    trickler.getOutputStream().write(slow[i % slow.length]);
                    closed = trickler.getInputStream().read() == -1;
                } catch (java.net.SocketTimeoutException e) {
                    // nothing yet: keep trickling
                } catch (java.io.IOException e) {
                    closed = true; // reset while writing
                }
            }
            long tookMillis = Duration.ofNanos(System.nanoTime() - start).toMillis();
            assertThat(closed).as("the trickling connection is closed at the request deadline").isTrue();
            assertThat(tookMillis).isBetween(RequestDeadline.SECONDS * 1000L - 1000, RequestDeadline.SECONDS * 1000L + 5000);
            for (Socket idle : held.subList(1, held.size())) {
                idle.setSoTimeout(5_000);
                assertThat(readsEndOrReset(idle)).as("an idle connection is closed at the request deadline").isTrue();
            }
            // The idle and trickling clients are still connected on their side; the server answers again.
            assertThat(AdminHttp.get(address, "/healthz").statusCode()).isEqualTo(200);
            String scrape = AdminHttp.get(address, "/metrics").body();
            assertThat(scrape).contains("l4lb_admin_connections_closed_total{reason=\"limit\"} 100.0",
                    "l4lb_admin_connections_closed_total{reason=\"request_timeout\"} " + AdminConnections.MAX + ".0");
        } finally {
            for (Socket socket : held) {
                socket.close();
            }
        }
    }

    /** True when the peer closed or reset the connection (rather than the read timing out). */
    private static boolean readsEndOrReset(Socket socket) {
        try {
            return socket.getInputStream().read() == -1;
        } catch (java.net.SocketTimeoutException e) {
            return false;
        } catch (java.io.IOException e) {
            return true; // a reset
        }
    }

    /**
     * Issue #21: a page on a DNS name rebound to 127.0.0.1 could read the admin's answers (every
     * endpoint, the config's path), its requests being same-origin to the browser; they still
     * carry that name in Host.
     */
    @Test
    void aRequestNamingTheAdminByAForeignHostIsRefused() throws Exception {
        live = startBackends();
        listen = Ports.loopback(Ports.free());
        balancer = toClose.add(Balancer.start(dev.l4lb.netty.testing.Configs.tcp(listen, live), TRANSPORT, 1));
        admin = toClose.add(AdminServer.start(new AdminConfig(ANY_PORTS.metrics(), ANY_PORTS.healthz(),
                List.of("lb.example.internal")), balancer, null));
        InetSocketAddress at = admin.metricsAddress();
        int port = at.getPort();

        for (String host : List.of("rebound.example:" + port, "rebound.example", "127.0.0.1.rebound.example:" + port,
                "localhost.rebound.example", "[::1", "evil.example.:" + port)) {
            String answer = rawGet(at, "/api/v1/services", host);
            assertThat(answer).as("Host: %s", host).startsWith("HTTP/1.1 403").contains("admin.allowedHosts")
                    .doesNotContain("\"endpoints\"");
            assertThat(rawGet(at, "/healthz", host)).as("health is no secret: Host %s", host).startsWith("HTTP/1.1 200");
        }
        for (String host : List.of("127.0.0.1:" + port, "127.0.0.1", "localhost:" + port, "LOCALHOST", "[::1]:" + port,
                "10.1.2.3:10249", "lb.example.internal:" + port, "LB.example.internal.")) {
            assertThat(rawGet(at, "/api/v1/services", host)).as("Host: %s", host).startsWith("HTTP/1.1 200");
        }
        assertThat(rawGet(at, "/api/v1/services", null)).as("no Host at all (HTTP/1.0)").startsWith("HTTP/1.1 200");
    }

    /** The whole answer to a GET with this Host header (none when null). */
    private static String rawGet(InetSocketAddress address, String path, String host) throws java.io.IOException {
        try (Socket socket = new Socket()) {
            socket.connect(address, 5000);
            socket.setSoTimeout(10_000);
            String request = "GET " + path + " HTTP/1.0\r\n" + (host == null ? "" : "Host: " + host + "\r\n") + "\r\n";
            socket.getOutputStream().write(request.getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            return new String(socket.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        }
    }

    @Test
    void noWebPageCanReloadTheConfig() throws Exception {
        Path file = dir.resolve("l4lb.yaml");
        live = startBackends();
        listen = Ports.loopback(Ports.free());
        Files.writeString(file, yaml(listen, List.of(live.get(0))));
        balancer = toClose.add(Balancer.start(ConfigLoader.load(file), TRANSPORT, 1));
        admin = toClose.add(AdminServer.start(ANY_PORTS, balancer, new ConfigReloader(file, balancer)));
        Files.writeString(file, yaml(listen, List.of(live.get(0), live.get(1))));
        InetSocketAddress at = admin.metricsAddress();
        int port = at.getPort();

        // What a page on another site can send without a preflight: a form post or a no-cors fetch.
        assertThat(AdminHttp.post(at, "/api/v1/reload", "Origin", "http://evil.example").statusCode()).isEqualTo(403);
        HttpResponse<String> form = AdminHttp.post(at, "/api/v1/reload",
                "Content-Type", "application/x-www-form-urlencoded");
        assertThat(form.statusCode()).isEqualTo(415);
        assertThat(form.body()).contains("Content-Type: application/json");
        assertThat(AdminHttp.post(at, "/api/v1/reload", "Content-Type", "text/plain").statusCode()).isEqualTo(415);
        assertThat(AdminHttp.post(at, "/api/v1/reload", new String[0]).statusCode()).isEqualTo(415);
        // A page served from a name rebound to 127.0.0.1 is same-origin to the browser, so it may
        // send JSON; its Origin still names the page's host. So do sandboxed frames ("null") and
        // pages on another port of this machine.
        for (String origin : List.of("http://rebound.example:" + port, "null", "http://127.0.0.1:" + (port == 1 ? 2 : port - 1),
                "https://127.0.0.1:" + port, "file://")) {
            assertThat(AdminHttp.post(at, "/api/v1/reload", "Content-Type", "application/json", "Origin", origin)
                    .statusCode()).as(origin).isEqualTo(403);
        }
        assertThat(services().path("services").get(0).path("endpoints")).as("nothing was reloaded").hasSize(1);
        assertThat(AdminHttp.get(at, "/metrics").body()).doesNotContain("l4lb_config_reloads_total{result=\"applied\"} 1.0");

        // The stats page itself, by address, and scripts (no Origin) may.
        HttpResponse<String> own = AdminHttp.post(at, "/api/v1/reload", "Content-Type", "application/json; charset=utf-8",
                "Origin", "http://" + Addresses.format(at));
        assertThat(own.statusCode()).as(own.body()).isEqualTo(200);
        assertThat(services().path("services").get(0).path("endpoints")).hasSize(2);
        assertThat(AdminHttp.post(at, "/api/v1/reload", "Content-Type", "application/json",
                "Origin", "http://localhost:" + port).statusCode()).isEqualTo(200);
    }

    @Test
    void aBalancerWithoutAConfigFileSaysThereIsNothingToReload() throws Exception {
        start(null);
        HttpResponse<String> answer = AdminHttp.post(admin.metricsAddress(), "/api/v1/reload");
        assertThat(answer.statusCode()).isEqualTo(409);
        assertThat(AdminHttp.json(answer).path("errors").get(0).asText()).contains("no config file to reload");
    }

    @Test
    void lbListReadsTheRunningBalancerAsIpvsadmWould() throws Exception {
        start("sessionAffinity: ClientIP");
        try (Socket held = Sockets.connect(listen)) {
            Sockets.assertEchoes(held, "listed");
            StringWriter out = new StringWriter();
            CommandLine lb = Main.commandLine();
            lb.setOut(new PrintWriter(out));
            assertThat(lb.execute("list", "--admin", Addresses.format(admin.metricsAddress()))).isZero();
            List<String> lines = out.toString().lines().toList();
            assertThat(lines.get(3)).isEqualTo("TCP  " + Addresses.format(listen) + " rr persistent 10800");
            List<String> endpoints = lines.subList(4, lines.size());
            assertThat(endpoints).hasSize(3).allSatisfy(line -> assertThat(line).startsWith("  -> "));
            // The held connection: one endpoint with one active connection.
            assertThat(endpoints).filteredOn(line -> line.matches("  -> \\S+ +Proxy +1 +1 +0 *")).hasSize(1);
        }
    }

    private void start(String extraPortKey) throws Exception {
        live = startBackends();
        listen = Ports.loopback(Ports.free());
        dead = Ports.loopback(Ports.free()); // nothing listens there: every connect is refused
        List<InetSocketAddress> endpoints = new ArrayList<>(live);
        endpoints.add(dead);
        String yaml = yaml(listen, endpoints);
        if (extraPortKey != null) {
            yaml = yaml.replace("        endpoints:", "        " + extraPortKey + "\n        endpoints:");
        }
        BalancerConfig config = ConfigLoader.parse("test.yaml", yaml);
        balancer = toClose.add(Balancer.start(config, TRANSPORT, 1));
        admin = toClose.add(AdminServer.start(ANY_PORTS, balancer, null));
    }

    private List<InetSocketAddress> startBackends() throws Exception {
        EchoServer backends = toClose.add(EchoBackends.start(TRANSPORT, 2));
        return backends.addresses();
    }

    private static String yaml(InetSocketAddress listen, List<InetSocketAddress> endpoints) {
        return """
                services:
                  - name: test/svc
                    ports:
                      - name: p
                        listen: ["%s"]
                        scheduler: rr
                        endpoints: [%s]
                """.formatted(Addresses.format(listen),
                String.join(", ", endpoints.stream().map(e -> "\"" + Addresses.format(e) + "\"").toList()));
    }

    private JsonNode services() {
        HttpResponse<String> response = AdminHttp.get(admin.metricsAddress(), "/api/v1/services");
        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(response.headers().firstValue("content-type")).hasValue("application/json");
        return AdminHttp.json(response);
    }

    private static long valueOf(String metrics, String series) {
        return metrics.lines().filter(line -> line.startsWith(series + " ")).findFirst()
                .map(line -> (long) Double.parseDouble(line.substring(series.length() + 1)))
                .orElseThrow(() -> new AssertionError("no series " + series));
    }
}

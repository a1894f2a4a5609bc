package dev.l4lb.netty.admin;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.List;

import tools.jackson.databind.JsonNode;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.RegisterExtension;
import picocli.CommandLine;

import dev.l4lb.core.config.AdminConfig;
import dev.l4lb.core.health.EndpointHealth;
import dev.l4lb.core.model.Addresses;
import dev.l4lb.core.table.Route;
import dev.l4lb.netty.Balancer;
import dev.l4lb.netty.cli.Main;
import dev.l4lb.netty.echo.EchoServer;
import dev.l4lb.netty.testing.AdminHttp;
import dev.l4lb.netty.testing.Closer;
import dev.l4lb.netty.testing.Configs;
import dev.l4lb.netty.testing.EchoBackends;
import dev.l4lb.netty.testing.HealthConfigs;
import dev.l4lb.netty.testing.NoLeaks;
import dev.l4lb.netty.testing.Ports;
import dev.l4lb.netty.testing.Sockets;
import dev.l4lb.netty.transport.Transport;

/**
 * Where endpoint health shows, read from a running balancer over its admin server: the services
 * API, {@code lb list}, the Prometheus scrape and the stats page. No checker runs here: the test
 * moves the endpoints' health itself, as the checker and the data plane would.
 */
@ExtendWith(NoLeaks.class)
class HealthShownTest {
    private static final Transport TRANSPORT = Transport.select("auto");
    private static final String PORT_LABELS = "port=\"p\",protocol=\"TCP\",service=\"test/svc\"";

    @RegisterExtension
    final Closer toClose = new Closer();

    private InetSocketAddress listen;
    private List<InetSocketAddress> endpoints;
    private Balancer balancer;
    private AdminServer admin;

    @BeforeEach
    void start() throws Exception {
        EchoServer backends = toClose.add(EchoBackends.start(TRANSPORT, 3));
        endpoints = backends.addresses();
        listen = Ports.loopback(Ports.free());
        balancer = toClose.add(Balancer.start(
                HealthConfigs.withHealth(Configs.tcp(listen, endpoints), HealthConfigs.CHECK_AND_OUTLIER), TRANSPORT, 1));
        InetAddress loopback = InetAddress.getLoopbackAddress();
        admin = toClose.add(AdminServer.start(
                new AdminConfig(new InetSocketAddress(loopback, 0), new InetSocketAddress(loopback, 0)), balancer, null));
    }

    @Test
    void aDownAndAnEjectedEndpointShowWithTheirReasonInTheApiTheListingAndTheMetrics() throws Exception {
        health(0).checkPassed(1);
        health(0).checkFailed(1, "connect refused");
        Instant failed = Instant.now();
        health(1).connectFailed("connect timed out", System.nanoTime());

        JsonNode port = services().path("services").get(0);
        JsonNode policy = port.path("health");
        assertThat(policy.path("check").path("type").asString()).isEqualTo("tcp");
        assertThat(policy.path("check").path("intervalSeconds").asDouble()).isEqualTo(86400.0);
        assertThat(policy.path("check").path("fall").asInt()).isEqualTo(1);
        assertThat(policy.path("outlierDetection").path("consecutiveConnectFailures").asInt()).isEqualTo(1);
        assertThat(policy.path("failingOpen").asBoolean()).isFalse();
        assertThat(policy.path("failOpenEntered").asLong()).isZero();

        JsonNode down = port.path("endpoints").get(0);
        assertThat(down.path("state").asString()).as("the config's word stays as it was").isEqualTo("up");
        assertThat(down.path("health").path("state").asString()).isEqualTo("down");
        assertThat(down.path("health").path("inService").asBoolean()).isFalse();
        assertThat(down.path("health").path("checksPassed").asLong()).isEqualTo(1);
        assertThat(down.path("health").path("checksFailed").asLong()).isEqualTo(1);
        assertThat(down.path("health").path("lastFailure").path("message").asString()).isEqualTo("connect refused");
        assertThat(Instant.parse(down.path("health").path("lastFailure").path("time").asString()))
                .isBetween(failed.minusSeconds(5), failed.plusSeconds(1));

        JsonNode ejected = port.path("endpoints").get(1);
        assertThat(ejected.path("health").path("state").asString()).isEqualTo("ejected");
        assertThat(ejected.path("health").path("ejections").asInt()).isEqualTo(1);
        assertThat(ejected.path("health").path("lastFailure").path("message").asString()).isEqualTo("connect timed out");
        Instant until = Instant.parse(ejected.path("health").path("ejectedUntil").asString());
        // EJECT_AT_ONCE ejects for a minute.
        assertThat(Duration.between(Instant.now(), until).toSeconds()).isCloseTo(60, within(5L));

        JsonNode up = port.path("endpoints").get(2);
        assertThat(up.path("health").path("state").asString()).isEqualTo("up");
        assertThat(up.path("health").path("ejectedUntil").isNull()).isTrue();
        assertThat(up.path("health").path("lastFailure").isNull()).isTrue();

        List<String> lines = list();
        assertThat(lines.get(2)).endsWith("InActConn Health");
        assertThat(lines.get(3)).isEqualTo("TCP  " + Addresses.format(listen) + " rr check tcp 86400s outlier");
        String clock = DateTimeFormatter.ofPattern("HH:mm:ss").format(until.atZone(ZoneId.systemDefault()));
        assertThat(lines.subList(4, 7)).satisfiesExactly(
                line -> assertThat(line).matches("  -> " + Addresses.format(endpoints.get(0)) + " +Proxy +0 .* down \\(connect refused\\)"),
                line -> assertThat(line).matches("  -> " + Addresses.format(endpoints.get(1)) + " +Proxy +0 .* ejected until "
                        + clock + " \\(connect timed out\\)"),
                line -> assertThat(line).matches("  -> " + Addresses.format(endpoints.get(2)) + " +Proxy +1 .* up"));

        String metrics = AdminHttp.get(admin.metricsAddress(), "/metrics").body();
        assertThat(metrics).contains(
                "l4lb_endpoint_healthy{" + endpoint(0) + "} 0.0",
                "l4lb_endpoint_healthy{" + endpoint(1) + "} 0.0",
                "l4lb_endpoint_healthy{" + endpoint(2) + "} 1.0",
                checks(0, "pass") + " 1.0",
                checks(0, "fail") + " 1.0",
                checks(2, "fail") + " 0.0",
                "l4lb_outlier_ejections_total{" + endpoint(1) + "} 1.0",
                "l4lb_outlier_ejections_total{" + endpoint(0) + "} 0.0",
                "l4lb_port_fail_open{" + PORT_LABELS + "} 0.0");
    }

    @Test
    void aPortWhoseEndpointsAreAllOutShowsThatItFailsOpenAndHowOften() throws Exception {
        for (int i = 0; i < endpoints.size(); i++) {
            health(i).checkFailed(1, "connect refused");
        }

        JsonNode policy = services().path("services").get(0).path("health");
        assertThat(policy.path("failingOpen").asBoolean()).isTrue();
        assertThat(policy.path("allOut").asBoolean()).isTrue();
        assertThat(policy.path("failOpenEntered").asLong()).isEqualTo(1);
        assertThat(services().path("services").get(0).path("endpoints").get(0).path("health").path("inService").asBoolean())
                .as("down, yet taking connections while the port fails open").isTrue();
        assertThat(list().get(3)).endsWith(" rr check tcp 86400s outlier FAILING OPEN (1 time)");
        assertThat(AdminHttp.get(admin.metricsAddress(), "/metrics").body()).contains(
                "l4lb_port_fail_open{" + PORT_LABELS + "} 1.0",
                "l4lb_port_fail_open_entries_total{" + PORT_LABELS + "} 1.0");
        // And so it does: the connection reaches an endpoint that is down.
        try (Socket client = Sockets.connect(listen)) {
            Sockets.assertEchoes(client, "failing open");
        }

        health(2).checkPassed(1);

        assertThat(services().path("services").get(0).path("health").path("failingOpen").asBoolean()).isFalse();
        assertThat(list().get(3)).endsWith(" rr check tcp 86400s outlier failed open 1 time");
        assertThat(AdminHttp.get(admin.metricsAddress(), "/metrics").body()).contains(
                "l4lb_port_fail_open{" + PORT_LABELS + "} 0.0",
                "l4lb_port_fail_open_entries_total{" + PORT_LABELS + "} 1.0");
    }

    @Test
    void theStatsPageServedColoursEjectedEndpointsAndMarksAPortFailingOpen() {
        HttpResponse<String> page = AdminHttp.get(admin.metricsAddress(), "/");

        assertThat(page.statusCode()).isEqualTo(200);
        assertThat(page.body()).contains(".state-ejected {", "class=\"state-ejected\"", "table.port.failing-open",
                "FAILING OPEN", "function effectiveState(e)", "function healthCell(e, s, now)");
    }

    private EndpointHealth health(int endpoint) {
        Route route = balancer.snapshot().routes().get(0);
        return route.backends().get(endpoint).counters().health();
    }

    private String endpoint(int i) {
        return "endpoint=\"" + Addresses.format(endpoints.get(i)) + "\"," + PORT_LABELS;
    }

    /** Prometheus sorts the labels: result comes before service. */
    private String checks(int i, String result) {
        return "l4lb_health_checks_total{" + endpoint(i).replace(",service=", ",result=\"" + result + "\",service=") + "}";
    }

    private JsonNode services() {
        HttpResponse<String> response = AdminHttp.get(admin.metricsAddress(), "/api/v1/services");
        assertThat(response.statusCode()).isEqualTo(200);
        return AdminHttp.json(response);
    }

    private List<String> list() {
        StringWriter out = new StringWriter();
        CommandLine lb = Main.commandLine();
        lb.setOut(new PrintWriter(out));
        assertThat(lb.execute("list", "--admin", Addresses.format(admin.metricsAddress()))).isZero();
        return out.toString().lines().toList();
    }
}

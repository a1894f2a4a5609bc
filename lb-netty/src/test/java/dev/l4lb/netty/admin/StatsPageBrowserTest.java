package dev.l4lb.netty.admin;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.RegisterExtension;

import dev.l4lb.core.config.AdminConfig;
import dev.l4lb.core.config.BalancerConfig;
import dev.l4lb.core.model.Addresses;
import dev.l4lb.core.table.Route;
import dev.l4lb.netty.Balancer;
import dev.l4lb.netty.transport.Transport;
import dev.l4lb.netty.echo.EchoServer;
import dev.l4lb.netty.testing.AdminHttp;
import dev.l4lb.netty.testing.Chromium;
import dev.l4lb.netty.testing.Closer;
import dev.l4lb.netty.testing.Configs;
import dev.l4lb.netty.testing.EchoBackends;
import dev.l4lb.netty.testing.HealthConfigs;
import dev.l4lb.netty.testing.NoLeaks;
import dev.l4lb.netty.testing.Ports;
import dev.l4lb.netty.testing.Sockets;

/**
 * The stats page as people see it: a real headless Chromium loads it from a running balancer,
 * its script fetches the services API, and the rendered tables must show the live endpoints,
 * their states and counters. A screenshot is left in target/ for people to look at.
 */
@ExtendWith(NoLeaks.class)
class StatsPageBrowserTest {
    private static final Transport TRANSPORT = Transport.select("auto");
    private static final Pattern ENDPOINT_ROW = Pattern.compile(
            "<tr class=\"endpoint[^\"]*\" data-address=\"([^\"]+)\">(.*?)</tr>", Pattern.DOTALL);
    private static final Pattern CELL = Pattern.compile("<td class=\"([a-z-]+)[^\"]*\"[^>]*>(.*?)</td>", Pattern.DOTALL);

    @RegisterExtension
    final Closer toClose = new Closer();

    @Test
    void thePageShowsEveryEndpointWithItsStateAndLiveCounters() throws Exception {
        Chromium chromium = Chromium.require();
        EchoServer backends = toClose.add(EchoBackends.start(TRANSPORT, 3));
        InetSocketAddress up = backends.addresses().get(0);
        InetSocketAddress heavy = backends.addresses().get(1);
        InetSocketAddress drained = backends.addresses().get(2);
        InetSocketAddress dead = Ports.loopback(Ports.free());
        InetSocketAddress listen = Ports.loopback(Ports.free());
        BalancerConfig config = Configs.parse("""
                services:
                  - name: shop/web
                    ports:
                      - name: http
                        listen: ["%s"]
                        scheduler: rr
                        proxyProtocol: none
                        endpoints:
                          - {address: "%s"}
                          - {address: "%s", weight: 3}
                          - {address: "%s", weight: 0}
                          - {address: "%s"}
                """.formatted(Addresses.format(listen), Addresses.format(up), Addresses.format(heavy),
                Addresses.format(drained), Addresses.format(dead)));
        Balancer balancer = toClose.add(Balancer.start(config, TRANSPORT, 1));
        InetAddress loopback = InetAddress.getLoopbackAddress();
        AdminServer admin = toClose.add(AdminServer.start(
                new AdminConfig(new InetSocketAddress(loopback, 0), new InetSocketAddress(loopback, 0)), balancer, null));

        // Six connections of 100 bytes each way; rr over the two live endpoints (the dead one's
        // turns fail over), then one connection held open while the page is read.
        for (int i = 0; i < 6; i++) {
            try (Socket client = Sockets.connect(listen)) {
                Sockets.assertEchoes(client, "x".repeat(100));
            }
        }
        try (Socket held = Sockets.connect(listen)) {
            Sockets.assertEchoes(held, "held");
            await().atMost(Duration.ofSeconds(5)).until(() -> balancer.snapshot().activeConnections() == 1);
            URI page = AdminHttp.uri(admin.metricsAddress(), "/");

            Chromium.Page loaded = chromium.load(page, Duration.ofSeconds(3));
            Path png = Path.of("target", "stats-page.png");
            chromium.screenshot(page, png, 1400, 700, Duration.ofSeconds(3));
            assertThat(png).isNotEmptyFile();

            // The rendered document, without the page's own script (whose templates look like rows).
            String dom = loaded.dom().replaceAll("(?s)<script.*?</script>", "");
            assertThat(dom).as("the script rendered the API's answer").containsPattern("<body[^>]* data-updated=\"20");
            assertThat(dom).contains("data-service=\"shop/web\"", "data-port=\"http\"");
            Map<String, Map<String, String>> rows = endpointRows(dom);
            assertThat(rows.keySet()).containsExactly(Addresses.format(up), Addresses.format(heavy),
                    Addresses.format(drained), Addresses.format(dead));

            Map<String, String> first = rows.get(Addresses.format(up));
            Map<String, String> second = rows.get(Addresses.format(heavy));
            assertThat(first.get("state")).isEqualTo("up");
            assertThat(second.get("weight")).isEqualTo("3");
            assertThat(rows.get(Addresses.format(drained)).get("state")).isEqualTo("drained");
            assertThat(rows.get(Addresses.format(drained)).get("connections")).isEqualTo("0");
            // Seven connections in all went to the two live endpoints; one of them is open now.
            assertThat(Long.parseLong(first.get("connections")) + Long.parseLong(second.get("connections"))).isEqualTo(7);
            assertThat(Integer.parseInt(first.get("active")) + Integer.parseInt(second.get("active"))).isEqualTo(1);
            assertThat(Long.parseLong(first.get("bytes-in")) + Long.parseLong(second.get("bytes-in"))).isEqualTo(604);
            Map<String, String> deadRow = rows.get(Addresses.format(dead));
            assertThat(deadRow.get("connections")).isEqualTo("0");
            assertThat(deadRow.get("last-error")).containsIgnoringCase("refused");
            assertThat(loaded.console()).noneMatch(line -> line.contains("Uncaught"));
        }
    }

    @Test
    void aDownEndpointIsRedAnEjectedOneOrangeAndAPortFailingOpenStandsOut() throws Exception {
        Chromium chromium = Chromium.require();
        EchoServer backends = toClose.add(EchoBackends.start(TRANSPORT, 2));
        InetSocketAddress down = backends.addresses().get(0);
        InetSocketAddress ejected = backends.addresses().get(1);
        InetSocketAddress listen = Ports.loopback(Ports.free());
        Balancer balancer = toClose.add(Balancer.start(HealthConfigs.withHealth(
                Configs.tcp(listen, backends.addresses()), HealthConfigs.CHECK_AND_OUTLIER), TRANSPORT, 1));
        InetAddress loopback = InetAddress.getLoopbackAddress();
        AdminServer admin = toClose.add(AdminServer.start(
                new AdminConfig(new InetSocketAddress(loopback, 0), new InetSocketAddress(loopback, 0)), balancer, null));
        Route route = balancer.snapshot().routes().get(0);
        route.backends().get(0).counters().health().checkFailed(1, "connect refused");
        route.backends().get(1).counters().health().connectFailed("connect timed out", System.nanoTime());
        assertThat(route.health().failingOpen()).as("both out: the port fails open").isTrue();

        URI page = AdminHttp.uri(admin.metricsAddress(), "/");
        Chromium.Page loaded = chromium.load(page, Duration.ofSeconds(3));
        Path png = Path.of("target", "stats-page-health.png");
        chromium.screenshot(page, png, 1400, 400, Duration.ofSeconds(3));
        assertThat(png).isNotEmptyFile();

        String dom = loaded.dom().replaceAll("(?s)<script.*?</script>", "");
        assertThat(dom).containsPattern("<body[^>]* data-updated=\"20");
        assertThat(dom).contains("<tr class=\"endpoint state-down\" data-address=\"" + Addresses.format(down) + "\"",
                "<tr class=\"endpoint state-ejected\" data-address=\"" + Addresses.format(ejected) + "\"",
                "<table class=\"port failing-open\"", "FAILING OPEN (1\u00d7)", "tcp check every 86400s", "outlier detection");
        Map<String, Map<String, String>> rows = endpointRows(dom);
        assertThat(rows.get(Addresses.format(down)).get("state")).isEqualTo("down");
        assertThat(rows.get(Addresses.format(down)).get("health")).startsWith("down since").contains("connect refused");
        assertThat(rows.get(Addresses.format(ejected)).get("state")).isEqualTo("ejected");
        assertThat(rows.get(Addresses.format(ejected)).get("health")).startsWith("ejected until").contains("connect timed out");
        assertThat(loaded.console()).noneMatch(line -> line.contains("Uncaught"));
    }

    /** Endpoint rows by address: cell class to its text (or its exact {@code data-value}). */
    private static Map<String, Map<String, String>> endpointRows(String dom) {
        Map<String, Map<String, String>> rows = new LinkedHashMap<>();
        Matcher row = ENDPOINT_ROW.matcher(dom);
        while (row.find()) {
            Map<String, String> cells = new LinkedHashMap<>();
            Matcher cell = CELL.matcher(row.group(2));
            while (cell.find()) {
                Matcher value = Pattern.compile("data-value=\"([^\"]*)\"").matcher(cell.group(0));
                cells.put(cell.group(1), value.find() ? value.group(1) : cell.group(2).replaceAll("<[^>]+>", "").trim());
            }
            rows.put(row.group(1), cells);
        }
        assertThat(rows).as("endpoint rows in the rendered page:\n" + dom).isNotEmpty();
        return rows;
    }
}

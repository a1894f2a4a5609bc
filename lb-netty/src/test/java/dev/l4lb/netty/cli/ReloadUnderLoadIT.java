package dev.l4lb.netty.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.net.InetSocketAddress;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import dev.l4lb.core.model.Addresses;
import dev.l4lb.netty.transport.Transport;
import dev.l4lb.netty.echo.EchoServer;
import dev.l4lb.netty.testing.AdminHttp;
import dev.l4lb.netty.testing.PeerProcess;
import dev.l4lb.netty.testing.LbJar;
import dev.l4lb.netty.testing.Ports;

/**
 * Issue 15's reload under load, on the jar as users run it: wrk drives keep-alive requests, then
 * a new connection per request, through l4lb while its file is rewritten and reloaded 25 times in
 * each run (an endpoint added, one removed, weights changed, in turn), with a broken file sent by
 * SIGHUP in the middle. What must hold: not one failed request (no socket error, no answer other
 * than 200), every good reload applied, the broken one rejected with the old config serving.
 */
class ReloadUnderLoadIT {
    private static final int RELOADS_PER_RUN = 25;
    private static final Pattern REQUESTS = Pattern.compile("(\\d+) requests in");

    @ParameterizedTest
    @ValueSource(strings = {"keep-alive", "close"})
    void fiftyReloadsWhileWrkRunsFailNoRequest(String connection, @TempDir Path dir) throws Exception {
        Path wrk = PeerProcess.executable("wrk");
        try (EchoServer backends = EchoServer.start(List.of(Ports.loopback(0), Ports.loopback(0), Ports.loopback(0),
                Ports.loopback(0)), Transport.NIO, 1)) {
            List<String> endpoints = backends.addresses().stream().map(Addresses::format).toList();
            InetSocketAddress listen = Ports.loopback(Ports.free());
            InetSocketAddress metrics = Ports.loopback(Ports.free());
            String admin = "admin: {metrics: \"%s\", healthz: \"%s\"}\n".formatted(Addresses.format(metrics),
                    Addresses.format(Ports.loopback(Ports.free())));
            Path config = dir.resolve("l4lb.yaml");
            Files.writeString(config, admin + service(listen, endpoints, 0));
            Path log = dir.resolve("lb.log");
            Process lb = LbJar.run(config, log);
            try {
                List<String> command = new ArrayList<>(List.of(wrk.toString(), "-t1", "-c16", "-d10s", "--latency"));
                if (connection.equals("close")) {
                    command.addAll(List.of("-H", "Connection: close"));
                }
                command.add("http://" + Addresses.format(listen) + "/");
                Process load = new ProcessBuilder(command).redirectErrorStream(true).start();
                CompletableFuture<String> report = CompletableFuture.supplyAsync(() -> {
                    try {
                        return new String(load.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                    } catch (java.io.IOException e) {
                        throw new java.io.UncheckedIOException(e);
                    }
                });

                Thread.sleep(500); // wrk is connected and sending
                int applied = 0;
                for (int i = 1; i <= RELOADS_PER_RUN; i++) {
                    if (i == RELOADS_PER_RUN / 2) {
                        Files.writeString(config, admin + "services: [broken\n");
                        new ProcessBuilder("kill", "-HUP", Long.toString(lb.pid())).start().waitFor();
                        await().atMost(Duration.ofSeconds(10)).until(() -> Files.readString(log).contains("rejected"));
                    }
                    Files.writeString(config, admin + service(listen, endpoints, i));
                    HttpResponse<String> answer = AdminHttp.post(metrics, "/api/v1/reload");
                    assertThat(answer.statusCode()).as(answer.body()).isEqualTo(200);
                    applied++;
                    Thread.sleep(300);
                }

                assertThat(load.waitFor(60, TimeUnit.SECONDS)).isTrue();
                String out = report.get(10, TimeUnit.SECONDS);
                Matcher requests = REQUESTS.matcher(out);
                assertThat(requests.find()).as(out).isTrue();
                assertThat(Long.parseLong(requests.group(1))).as(out).isGreaterThan(1000);
                assertThat(out).as("wrk saw no socket error and no answer but 200")
                        .doesNotContain("Socket errors", "Non-2xx or 3xx responses");
                String scrape = AdminHttp.get(metrics, "/metrics").body();
                assertThat(scrape).contains("l4lb_config_reloads_total{result=\"applied\"} " + (double) applied,
                        "l4lb_config_reloads_total{result=\"rejected\"} 1.0");
                System.out.printf("reload under load (%s): %d reloads applied and 1 broken file rejected while wrk made %s"
                        + " requests, none failed%n", connection, applied, requests.group(1));
            } finally {
                lb.destroy();
                assertThat(lb.waitFor(30, TimeUnit.SECONDS)).isTrue();
            }
        }
    }

    /**
     * The service at reload {@code i}: in turn, endpoint 4 added, weights changed, endpoint 4
     * removed, and one of the first three drained by weight 0.
     */
    private static String service(InetSocketAddress listen, List<String> endpoints, int i) {
        StringBuilder yaml = new StringBuilder("""
                services:
                  - name: torture/reload
                    ports:
                      - listen: ["%s"]
                        scheduler: wrr
                        endpoints:
                """.formatted(Addresses.format(listen)));
        int step = i % 4;
        for (int e = 0; e < 3; e++) {
            int weight = step == 1 ? 1 + (i + e) % 5 : step == 3 && e == i % 3 ? 0 : 1;
            yaml.append("          - {address: \"%s\", weight: %d}\n".formatted(endpoints.get(e), weight));
        }
        if (step == 0 || step == 1) {
            yaml.append("          - {address: \"%s\", weight: 2}\n".formatted(endpoints.get(3)));
        }
        return yaml.toString();
    }
}

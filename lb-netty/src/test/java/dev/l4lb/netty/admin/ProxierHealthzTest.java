package dev.l4lb.netty.admin;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;

import tools.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.RegisterExtension;

import dev.l4lb.core.config.AdminConfig;
import dev.l4lb.core.config.ConfigLoader;
import dev.l4lb.core.kube.ProxierHealth;
import dev.l4lb.core.model.Addresses;
import dev.l4lb.netty.Balancer;
import dev.l4lb.netty.transport.Transport;
import dev.l4lb.netty.testing.AdminHttp;
import dev.l4lb.netty.testing.Closer;
import dev.l4lb.netty.testing.NoLeaks;
import dev.l4lb.netty.testing.Ports;

/** kube-proxy's staleness rule ({@link ProxierHealth}) as the admin server's /healthz and /livez answer it. */
@ExtendWith(NoLeaks.class)
class ProxierHealthzTest {
    private static final Duration TIMEOUT = Duration.ofSeconds(60);

    @RegisterExtension
    final Closer toClose = new Closer();

    @Test
    void healthzAnswers503WhileAChangeIsLateAnd200OnceSynced() throws Exception {
        ProxierHealth health = new ProxierHealth(TIMEOUT);
        Instant synced = Instant.now().minus(Duration.ofMinutes(5));
        health.updated(synced);
        health.queued(Instant.now().minus(TIMEOUT).minusSeconds(1));
        AdminServer admin = startAdmin(health);

        HttpResponse<String> stale = AdminHttp.get(admin.healthAddress(), "/healthz");
        assertThat(stale.statusCode()).isEqualTo(503);
        assertThat(stale.headers().firstValue("content-type")).hasValue("application/json");
        assertThat(stale.headers().firstValue("x-content-type-options")).hasValue("nosniff");
        JsonNode body = AdminHttp.json(stale);
        assertThat(body.propertyNames()).containsExactly("lastUpdated", "currentTime", "nodeEligible", "healthy");
        assertThat(body.path("lastUpdated").asText()).isEqualTo(synced.toString());
        assertThat(Instant.parse(body.path("currentTime").asText())).isAfter(synced);
        assertThat(body.path("nodeEligible").asBoolean()).isTrue();
        assertThat(body.path("healthy").asBoolean()).isFalse();
        // /livez is the same rule without the node's eligibility, as kube-proxy's.
        HttpResponse<String> livez = AdminHttp.get(admin.healthAddress(), "/livez");
        assertThat(livez.statusCode()).isEqualTo(503);
        assertThat(AdminHttp.json(livez).propertyNames()).containsExactly("lastUpdated", "currentTime", "healthy");

        health.updated(Instant.now());

        HttpResponse<String> fresh = AdminHttp.get(admin.healthAddress(), "/healthz");
        assertThat(fresh.statusCode()).isEqualTo(200);
        JsonNode freshBody = AdminHttp.json(fresh);
        // While healthy kube-proxy reports lastUpdated as now, the same instant as currentTime.
        assertThat(freshBody.path("lastUpdated").asText()).isEqualTo(freshBody.path("currentTime").asText());
        assertThat(freshBody.path("healthy").asBoolean()).isTrue();
    }

    @Test
    void healthzBeforeTheFirstSyncReportsGosZeroTime() throws Exception {
        AdminServer admin = startAdmin(new ProxierHealth(TIMEOUT));

        HttpResponse<String> response = AdminHttp.get(admin.healthAddress(), "/healthz");
        assertThat(response.statusCode()).isEqualTo(503);
        assertThat(AdminHttp.json(response).path("lastUpdated").asText()).isEqualTo("0001-01-01T00:00:00Z");
    }

    private AdminServer startAdmin(ProxierHealth health) throws Exception {
        InetSocketAddress loopbackAny = new InetSocketAddress(InetAddress.getLoopbackAddress(), 0);
        // The balancer only has to exist: /healthz answers from the ProxierHealth given, not from its snapshot.
        Balancer balancer = toClose.add(Balancer.start(ConfigLoader.parse("test.yaml", """
                services:
                  - name: test/svc
                    ports:
                      - name: p
                        listen: ["%s"]
                        endpoints: ["%s"]
                """.formatted(Addresses.format(Ports.loopback(Ports.free())), Addresses.format(Ports.loopback(Ports.free())))),
                Transport.select("auto"), 1));
        return toClose.add(AdminServer.start(new AdminConfig(loopbackAny, loopbackAny), balancer, null, health));
    }
}

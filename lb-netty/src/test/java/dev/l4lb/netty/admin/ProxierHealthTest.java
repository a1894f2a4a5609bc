package dev.l4lb.netty.admin;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

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
import dev.l4lb.core.model.Addresses;
import dev.l4lb.netty.Balancer;
import dev.l4lb.netty.Transport;
import dev.l4lb.netty.testing.AdminHttp;
import dev.l4lb.netty.testing.Closer;
import dev.l4lb.netty.testing.NoLeaks;
import dev.l4lb.netty.testing.Ports;

/** kube-proxy's staleness rule, at chosen instants, and through the admin server's /healthz. */
@ExtendWith(NoLeaks.class)
class ProxierHealthTest {
    private static final Duration TIMEOUT = Duration.ofSeconds(60);
    private static final Instant T0 = Instant.parse("2025-03-01T12:00:00Z");

    @RegisterExtension
    final Closer toClose = new Closer();

    @Test
    void neverSyncedIsUnhealthy() {
        ProxierHealth health = new ProxierHealth(TIMEOUT);
        assertThat(health.healthy(T0)).isFalse();
        assertThat(health.lastUpdated()).isEmpty();

        health.queued(T0);
        assertThat(health.healthy(T0.plusSeconds(1))).isFalse();
    }

    @Test
    void syncedWithNothingQueuedStaysHealthy() {
        // A static config: one snapshot, never a change after it.
        ProxierHealth health = new ProxierHealth(TIMEOUT);
        health.updated(T0);
        assertThat(health.healthy(T0)).isTrue();
        assertThat(health.healthy(T0.plus(Duration.ofDays(365)))).isTrue();
        assertThat(health.lastUpdated()).hasValue(T0);
    }

    @Test
    void aChangeSyncedWithinTheTimeoutStaysHealthy() {
        ProxierHealth health = new ProxierHealth(TIMEOUT);
        health.updated(T0);
        Instant queued = T0.plusSeconds(10);
        health.queued(queued);
        assertThat(health.healthy(queued.plus(TIMEOUT).minusMillis(1))).isTrue();

        health.updated(queued.plusSeconds(30));
        assertThat(health.healthy(queued.plus(TIMEOUT).plusSeconds(1))).isTrue();
        assertThat(health.lastUpdated()).hasValue(queued.plusSeconds(30));
    }

    @Test
    void aChangeQueuedLongerThanTheTimeoutIsUnhealthyUntilSynced() {
        ProxierHealth health = new ProxierHealth(TIMEOUT);
        health.updated(T0);
        Instant queued = T0.plusSeconds(10);
        health.queued(queued);

        // kube-proxy's test is currentTime - oldestPendingQueued < healthTimeout: at the timeout it is late.
        ProxierHealth.Status late = health.status(queued.plus(TIMEOUT));
        assertThat(late.healthy()).isFalse();
        assertThat(late.lastUpdated()).isEqualTo(T0);
        assertThat(late.currentTime()).isEqualTo(queued.plus(TIMEOUT));

        Instant synced = queued.plus(TIMEOUT).plusSeconds(5);
        health.updated(synced);
        assertThat(health.healthy(synced)).isTrue();
        assertThat(health.healthy(synced.plus(TIMEOUT).plus(TIMEOUT))).isTrue();
    }

    @Test
    void laterChangesDoNotPushTheDeadlineOut() {
        ProxierHealth health = new ProxierHealth(TIMEOUT);
        health.updated(T0);
        health.queued(T0.plusSeconds(1));
        health.queued(T0.plusSeconds(50));
        assertThat(health.healthy(T0.plusSeconds(1).plus(TIMEOUT))).isFalse();
    }

    @Test
    void theTimeoutMustBePositive() {
        assertThatThrownBy(() -> new ProxierHealth(Duration.ZERO)).isInstanceOf(IllegalArgumentException.class);
        assertThat(ProxierHealth.DEFAULT_HEALTH_TIMEOUT).isEqualTo(Duration.ofSeconds(60));
    }

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

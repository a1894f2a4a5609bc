package dev.l4lb.core.kube;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.time.Instant;

import org.junit.jupiter.api.Test;

/** kube-proxy's staleness rule, at chosen instants (lb-netty's ProxierHealthzTest asks it through /healthz). */
class ProxierHealthTest {
    private static final Duration TIMEOUT = Duration.ofSeconds(60);
    private static final Instant T0 = Instant.parse("2025-03-01T12:00:00Z");

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
        assertThatThrownBy(() -> new ProxierHealth(Duration.ofSeconds(-1))).isInstanceOf(IllegalArgumentException.class);
    }
}

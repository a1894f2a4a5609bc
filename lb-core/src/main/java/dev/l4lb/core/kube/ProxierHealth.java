package dev.l4lb.core.kube;

import java.time.Duration;
import java.time.Instant;
import java.util.Objects;
import java.util.Optional;

import org.jspecify.annotations.Nullable;

/**
 * Whether the proxier keeps up with its changes, by kube-proxy's rule
 * (pkg/proxy/healthcheck/proxy_health.go): unhealthy once a change has waited longer than the
 * health timeout without a sync that applies it.
 *
 * <p>One difference, on purpose: kube-proxy is healthy before its first sync, l4lb is not. l4lb's
 * /healthz has always answered 503 until a snapshot is in force, and a readiness probe should not
 * pass on a node that forwards nothing yet. After the first sync the rule is kube-proxy's, so a
 * static config that never queues a change stays healthy for good.
 *
 * <p>l4lb runs one proxier for both IP families, so there is one clock here where kube-proxy
 * keeps one per family. Calls come from the watcher and the admin loop, never the data plane; a
 * monitor is enough.
 */
public final class ProxierHealth {
    /** kube-proxy's: twice its default sync period of 30 s. */
    public static final Duration DEFAULT_HEALTH_TIMEOUT = Duration.ofSeconds(60);

    private final Duration healthTimeout;
    /** When the last sync finished; null before the first. */
    private @Nullable Instant lastUpdated;
    /** When the oldest change not yet synced arrived; null when none waits. */
    private @Nullable Instant oldestPendingQueued;
    /** kube-proxy's nodeEligible: true until the node is seen being deleted or tainted for deletion. */
    private boolean nodeEligible = true;

    public ProxierHealth(Duration healthTimeout) {
        Objects.requireNonNull(healthTimeout, "healthTimeout");
        if (healthTimeout.isNegative() || healthTimeout.isZero()) {
            throw new IllegalArgumentException("healthTimeout must be positive: " + healthTimeout);
        }
        this.healthTimeout = healthTimeout;
    }

    /**
     * What one health question answered, read at one instant.
     *
     * @param healthy     the proxier's own health (kube-proxy's {@code healthy}, without the node's eligibility)
     * @param lastUpdated when the last sync finished; null before the first
     * @param currentTime the instant asked about
     */
    public record Status(boolean healthy, @Nullable Instant lastUpdated, Instant currentTime) {
        public Status {
            Objects.requireNonNull(currentTime, "currentTime");
        }
    }

    public Duration healthTimeout() {
        return healthTimeout;
    }

    /**
     * A change arrived that the next sync must apply (kube-proxy's QueuedUpdate). Only the oldest
     * waiting change counts: a steady stream of changes must not keep pushing the deadline out.
     */
    public synchronized void queued(Instant at) {
        Objects.requireNonNull(at, "at");
        if (oldestPendingQueued == null) {
            oldestPendingQueued = at;
        }
    }

    /** A sync finished and everything queued before it is in force (kube-proxy's Updated). */
    public synchronized void updated(Instant at) {
        Objects.requireNonNull(at, "at");
        oldestPendingQueued = null;
        lastUpdated = at;
    }

    /**
     * Whether the node may take traffic (kube-proxy's SyncNode): false while it is being deleted
     * or tainted ToBeDeletedByClusterAutoscaler, so that /healthz takes it out of load balancers'
     * rotation before it goes.
     */
    public synchronized void nodeEligible(boolean eligible) {
        nodeEligible = eligible;
    }

    public synchronized boolean nodeEligible() {
        return nodeEligible;
    }

    /** When the last sync finished; empty before the first. */
    public synchronized Optional<Instant> lastUpdated() {
        return Optional.ofNullable(lastUpdated);
    }

    public boolean healthy(Instant now) {
        return status(now).healthy();
    }

    /**
     * The answer at {@code now}: healthy when a sync has finished and no change has waited
     * {@link #healthTimeout()} or longer (kube-proxy's strict {@code <}: at exactly the timeout it is late).
     */
    public synchronized Status status(Instant now) {
        Objects.requireNonNull(now, "now");
        boolean healthy = lastUpdated != null
                && (oldestPendingQueued == null || Duration.between(oldestPendingQueued, now).compareTo(healthTimeout) < 0);
        return new Status(healthy, lastUpdated, now);
    }
}

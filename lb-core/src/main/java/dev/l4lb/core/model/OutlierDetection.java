package dev.l4lb.core.model;

import java.time.Duration;
import java.util.Objects;

/**
 * Passive health from real traffic (Envoy's outlier detection): an endpoint whose connects fail
 * {@code consecutiveConnectFailures} times in a row is ejected for {@code baseEjectionTime},
 * doubled for each ejection that follows within {@code maxEjectionTime} of the last return and
 * capped at {@code maxEjectionTime}; never more than {@code maxEjectionPercent} of a port's
 * endpoints (rounded down) are ejected at once.
 *
 * @param consecutiveConnectFailures failed connects in a row (on UDP: ICMP port unreachable) that eject
 * @param baseEjectionTime           the first ejection's length
 * @param maxEjectionTime            the longest ejection; an endpoint that served this long since its
 *                                   last return starts again from {@code baseEjectionTime}
 * @param maxEjectionPercent         share of the port's endpoints that may be ejected at once, 0..100
 */
public record OutlierDetection(int consecutiveConnectFailures, Duration baseEjectionTime, Duration maxEjectionTime,
                               int maxEjectionPercent) {

    public static final int DEFAULT_CONSECUTIVE_CONNECT_FAILURES = 5;
    public static final Duration DEFAULT_BASE_EJECTION_TIME = Duration.ofSeconds(30);
    /** Envoy's default cap. */
    public static final Duration DEFAULT_MAX_EJECTION_TIME = Duration.ofSeconds(300);
    public static final int DEFAULT_MAX_EJECTION_PERCENT = 50;

    public OutlierDetection {
        Objects.requireNonNull(baseEjectionTime, "baseEjectionTime");
        Objects.requireNonNull(maxEjectionTime, "maxEjectionTime");
        if (consecutiveConnectFailures < 1) {
            throw new IllegalArgumentException("consecutiveConnectFailures must be at least 1");
        }
        if (baseEjectionTime.isNegative() || baseEjectionTime.isZero()) {
            throw new IllegalArgumentException("baseEjectionTime must be positive");
        }
        if (maxEjectionTime.compareTo(baseEjectionTime) < 0) {
            throw new IllegalArgumentException("maxEjectionTime must not be below baseEjectionTime");
        }
        if (maxEjectionPercent < 0 || maxEjectionPercent > 100) {
            throw new IllegalArgumentException("maxEjectionPercent out of 0..100");
        }
    }

    /** How many of {@code endpoints} may be ejected at once. */
    public int maxEjected(int endpoints) {
        return (int) ((long) endpoints * maxEjectionPercent / 100);
    }

    /**
     * The length of an endpoint's {@code nth} ejection in a row (1 for the first): the base time
     * doubled for each one before, capped.
     */
    public Duration ejectionTime(int nth) {
        int doublings = Math.min(Math.max(nth, 1) - 1, 30);
        long nanos = baseEjectionTime.toNanos();
        long max = maxEjectionTime.toNanos();
        return Duration.ofNanos(nanos > (max >> doublings) ? max : Math.min(max, nanos << doublings));
    }
}

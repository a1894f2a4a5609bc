package dev.l4lb.core.model;

import java.util.Objects;
import java.util.Optional;

/**
 * How a port learns that an endpoint is out of service, beyond what the config or Kubernetes say
 * of it: an active check, outlier detection from real traffic, or both; and what it does when
 * every endpoint is out.
 *
 * @param check            the active check; empty for none
 * @param outlierDetection passive ejection; empty for none
 * @param failOpen         when every endpoint is down or ejected, route as if all were up (Envoy's
 *                         panic mode), so that a broken check cannot black-hole the port; false
 *                         refuses connections then
 */
public record HealthPolicy(Optional<HealthCheck> check, Optional<OutlierDetection> outlierDetection, boolean failOpen) {
    /** No checks, no ejection: endpoints are as the config says. */
    public static final HealthPolicy NONE = new HealthPolicy(Optional.empty(), Optional.empty(), true);

    public HealthPolicy {
        Objects.requireNonNull(check, "check");
        Objects.requireNonNull(outlierDetection, "outlierDetection");
    }

    /** Does anything here ever take an endpoint out? */
    public boolean enabled() {
        return check.isPresent() || outlierDetection.isPresent();
    }
}

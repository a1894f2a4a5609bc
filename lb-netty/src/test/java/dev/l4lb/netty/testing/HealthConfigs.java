package dev.l4lb.netty.testing;

import java.time.Duration;
import java.util.Optional;

import dev.l4lb.core.config.BalancerConfig;
import dev.l4lb.core.model.HealthCheck;
import dev.l4lb.core.model.HealthPolicy;
import dev.l4lb.core.model.OutlierDetection;
import dev.l4lb.core.model.Service;

/**
 * Health policies put on configs in code, for the tests of what shows health: the tests drive the
 * states themselves through {@code EndpointHealth}, so the checker must not probe meanwhile (see TCP_CHECK) and the config file keys
 * are not needed.
 */
public final class HealthConfigs {
    /**
     * A TCP check that takes an endpoint down at its first failure and back at its first pass,
     * once a day: the balancer's checker then sends no probe while a test drives the states (its
     * first probe comes at a random time within the first interval: in the few seconds a test
     * runs, a chance of about 1 in 40,000 per endpoint).
     */
    public static final HealthCheck TCP_CHECK = new HealthCheck(HealthCheck.Kind.TCP, Duration.ofDays(1),
            Duration.ofSeconds(1), 1, 1, 0, "/", HealthCheck.DEFAULT_EXPECT_STATUS, false, false);
    /** Ejects at the first failed connect, for a minute, any share of the endpoints. */
    public static final OutlierDetection EJECT_AT_ONCE = new OutlierDetection(1, Duration.ofMinutes(1),
            Duration.ofMinutes(5), 100);
    /** Both, failing open. */
    public static final HealthPolicy CHECK_AND_OUTLIER = new HealthPolicy(Optional.of(TCP_CHECK),
            Optional.of(EJECT_AT_ONCE), true);

    private HealthConfigs() {
    }

    /** {@code config} with {@code policy} on every port. */
    public static BalancerConfig withHealth(BalancerConfig config, HealthPolicy policy) {
        return new BalancerConfig(config.services().stream()
                .map(s -> new Service(s.namespace(), s.name(), s.ports().stream().map(p -> p.withHealth(policy)).toList()))
                .toList(), config.admin());
    }
}

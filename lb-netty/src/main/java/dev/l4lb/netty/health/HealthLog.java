package dev.l4lb.netty.health;

import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.l4lb.core.health.EndpointHealth;
import dev.l4lb.core.health.HealthListener;
import dev.l4lb.core.health.HealthState;
import dev.l4lb.core.health.PortHealth;
import dev.l4lb.core.model.Addresses;

/** Logs each health transition once, when it happens: endpoints at INFO, a port failing open at WARN. */
public final class HealthLog implements HealthListener {
    private static final Logger LOG = LoggerFactory.getLogger(HealthLog.class);

    @Override
    public void endpointChanged(PortHealth port, EndpointHealth endpoint, HealthState from, HealthState to,
                                @Nullable String reason) {
        if (reason == null) {
            LOG.info("endpoint {} of {} is {} (was {})", Addresses.format(endpoint.address()), port.name(), to.label(),
                    from.label());
        } else {
            LOG.info("endpoint {} of {} is {} (was {}): {}", Addresses.format(endpoint.address()), port.name(), to.label(),
                    from.label(), reason);
        }
    }

    @Override
    public void failOpenChanged(PortHealth port, boolean failingOpen) {
        if (failingOpen) {
            LOG.warn("every endpoint of {} is down or ejected: failing open, routing to all of them as if up", port.name());
        } else {
            LOG.info("{} has an endpoint in service again: no longer failing open", port.name());
        }
    }
}

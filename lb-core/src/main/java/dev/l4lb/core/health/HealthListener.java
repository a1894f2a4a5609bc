package dev.l4lb.core.health;

import org.jspecify.annotations.Nullable;

/** Hears of health transitions, once each (to log and count them); called on whatever thread made the change. */
public interface HealthListener {
    /** Hears nothing. */
    HealthListener NONE = new HealthListener() {
        @Override
        public void endpointChanged(PortHealth port, EndpointHealth endpoint, HealthState from, HealthState to,
                                    @Nullable String reason) {
        }

        @Override
        public void failOpenChanged(PortHealth port, boolean failingOpen) {
        }
    };

    /** {@code endpoint} of {@code port} went from {@code from} to {@code to}, for {@code reason} (null when back up). */
    void endpointChanged(PortHealth port, EndpointHealth endpoint, HealthState from, HealthState to, @Nullable String reason);

    /** Every endpoint of {@code port} is out and it now routes as if all were up ({@code true}), or one is back ({@code false}). */
    void failOpenChanged(PortHealth port, boolean failingOpen);
}

package dev.l4lb.netty.kube;

import dev.l4lb.core.kube.ProxierPlan;

/**
 * The kernel rules that steer ClusterIP traffic to the balancer (portals): programmed from each
 * sync's plan, removed on close. {@link #OFF} when the proxier runs without them.
 */
public interface PortalProgram extends AutoCloseable {

    /** No portals: services are reached on their proxy listeners and node ports only. */
    PortalProgram OFF = new PortalProgram() {
        @Override
        public void sync(ProxierPlan plan) {
        }

        @Override
        public void close() {
        }
    };

    /** Makes the rules match {@code plan}; failures are logged, never thrown into the sync loop. */
    void sync(ProxierPlan plan);

    @Override
    void close();
}

package dev.l4lb.netty.kube.portal;

import dev.l4lb.core.kube.ProxierPlan;

/**
 * The kernel rules that steer ClusterIP traffic to the balancer (portals): programmed from each
 * sync's plan, removed on close. {@link #OFF} when the proxier runs without them.
 */
public interface PortalProgram extends AutoCloseable {

    /** No portals: services are reached on their proxy listeners and node ports only. */
    PortalProgram OFF = new PortalProgram() {
        @Override
        public boolean sync(ProxierPlan plan) {
            return true;
        }

        @Override
        public boolean active() {
            return false;
        }

        @Override
        public ReplyPath.Status replyPath() {
            return ReplyPath.Status.off("portals are off: l4lb sets no kernel rules on this node (--iptables)");
        }

        @Override
        public void close() {
        }
    };

    /** Whether rules are in place at all (false when off, or when iptables is missing or not permitted). */
    boolean active();

    /**
     * Whether TCP ClusterIP traffic arrives through the transparent listener (TPROXY rules in
     * place); false when TCP ClusterIP ports need proxy listeners and REDIRECT portals of their own.
     */
    default boolean transparentOn() {
        return false;
    }

    /**
     * Whether endpoints' replies to connections from clients' addresses come back to the
     * balancer, per family (the {@link ReplyPath}, set up with the portals where iptables works).
     */
    default ReplyPath.Status replyPath() {
        return ReplyPath.Status.off("these portals set up no reply path");
    }

    /**
     * Makes the rules match {@code plan}; failures are logged, never thrown into the sync loop.
     *
     * @return false when a write failed and the rules of before are still in force (portals that
     *         are off on this node are not a failure)
     */
    boolean sync(ProxierPlan plan);

    @Override
    void close();
}

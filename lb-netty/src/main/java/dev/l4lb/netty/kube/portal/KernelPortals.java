package dev.l4lb.netty.kube.portal;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.List;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.l4lb.core.kube.NoEndpointPorts;
import dev.l4lb.core.kube.ProxierPlan;
import dev.l4lb.core.model.Cidr;
import dev.l4lb.netty.transport.BindFailure;

/**
 * The portals of a sync in the kernel: REDIRECT rules for every ClusterIP port that has a proxy
 * listener, and, under TPROXY portals, the constant rule set that sends the service CIDRs' TCP
 * traffic to the transparent listener (a ClusterIP outside those CIDRs gets a rule of its own).
 * With them, the rules that refuse services without (local) endpoints before the handshake
 * ({@link NoEndpointRules}): l4lb owns the node's iptables only where it writes portals.
 */
public final class KernelPortals implements PortalProgram {
    private static final Logger LOG = LoggerFactory.getLogger(KernelPortals.class);

    private final IptablesPortals redirect;
    private final TproxyPortals tproxy;
    /** Null where iptables is not usable (said by the REDIRECT portals). */
    private final ReplyPath replies;
    /** Null where iptables is not usable. */
    private final NoEndpointRules noEndpoints;

    private KernelPortals(IptablesPortals redirect, TproxyPortals tproxy, List<Cidr> podRanges) {
        this.redirect = redirect;
        this.tproxy = tproxy;
        this.replies = redirect.enabled() ? ReplyPath.open(podRanges) : null;
        this.noEndpoints = redirect.enabled() ? NoEndpointRules.open() : null;
    }

    /**
     * kube-proxy userspace's portals: one REDIRECT (or DNAT, given the node's IP) rule per ClusterIP port.
     *
     * @param podRanges the cluster's pod ranges, where the endpoints' replies come from; empty: unknown
     */
    public static KernelPortals redirect(InetAddress bindAddress, InetAddress nodeIp, List<Cidr> podRanges) {
        return withoutTproxy(redirectPortals(bindAddress, nodeIp), podRanges);
    }

    private static IptablesPortals redirectPortals(InetAddress bindAddress, InetAddress nodeIp) {
        return nodeIp == null ? IptablesPortals.open(bindAddress) : IptablesPortals.open(bindAddress, nodeIp);
    }

    /** REDIRECT portals alone: what a crashed TPROXY run left would take ClusterIP packets before REDIRECT sees them. */
    private static KernelPortals withoutTproxy(IptablesPortals redirect, List<Cidr> podRanges) {
        TproxyPortals.removeLeftovers();
        return new KernelPortals(redirect, null, podRanges);
    }

    /**
     * The transparent listener TPROXY portals deliver to. It lives on the balancer's event loops,
     * so the balancer binds it; the portals decide whether it is wanted.
     */
    public interface TransparentListener {
        /** Binds it, and says where it is bound. */
        InetSocketAddress open() throws BindFailure;

        /** Closes it again: the TPROXY rules that would deliver to it could not be written. */
        void close();
    }

    /**
     * TPROXY portals to a transparent listener for TCP, and REDIRECT portals for UDP ClusterIP
     * ports, which keep their proxy listeners. The listener is bound only where iptables works;
     * when it cannot be bound (IP_TRANSPARENT needs CAP_NET_ADMIN), TPROXY is off and TCP falls
     * back to REDIRECT portals too. When the TPROXY rules cannot be written it is closed again
     * here, before anything is built on it: the rules need the port it is bound to, so the bind
     * comes first.
     */
    public static KernelPortals transparent(InetAddress bindAddress, InetAddress nodeIp, List<Cidr> serviceCidrs,
                                     List<Cidr> podRanges, TransparentListener listener) {
        IptablesPortals udp = redirectPortals(bindAddress, nodeIp);
        if (!udp.enabled()) {
            return new KernelPortals(udp, null, podRanges); // no iptables here: said once, by the REDIRECT portals
        }
        try {
            InetSocketAddress bound;
            try {
                bound = listener.open();
            } catch (BindFailure | IllegalStateException e) { // not bindable, or a transport without IP_TRANSPARENT
                LOG.warn("TPROXY portals are off: {}", e.getMessage());
                return withoutTproxy(udp, podRanges);
            }
            TproxyPortals tproxy = TproxyPortals.open(serviceCidrs, List.of(), bound);
            if (!tproxy.enabled()) {
                listener.close(); // nothing would deliver to it
            }
            return new KernelPortals(udp, tproxy, podRanges);
        } catch (RuntimeException e) {
            udp.close();
            throw e;
        }
    }

    /** Whether any rules are in place: false when iptables is missing or not permitted. */
    @Override
    public boolean active() {
        return redirect.enabled();
    }

    /** Whether TPROXY rules are in place (false: not asked for, or the kernel or iptables refused them). */
    @Override
    public boolean transparentOn() {
        return tproxy != null && tproxy.enabled();
    }

    @Override
    public ReplyPath.Status replyPath() {
        return replies != null ? replies.status()
                : ReplyPath.Status.off(redirect.offReason().map(why -> "iptables: " + why).orElse("iptables is not usable"));
    }

    @Override
    public boolean sync(ProxierPlan plan) {
        boolean written = redirect.sync(plan.portals()).outcome() != PortalSync.Outcome.FAILED;
        if (tproxy != null) {
            written &= tproxy.sync(plan.intercepted()).outcome() != PortalSync.Outcome.FAILED;
        }
        if (replies != null) {
            written &= replies.sync();
        }
        if (noEndpoints != null) {
            written &= noEndpoints.sync(NoEndpointPorts.of(plan)).outcome() != PortalSync.Outcome.FAILED;
        }
        return written;
    }

    @Override
    public void close() {
        if (tproxy != null) {
            tproxy.close();
        }
        redirect.close();
        if (replies != null) {
            replies.close();
        }
        if (noEndpoints != null) {
            noEndpoints.close();
        }
    }
}

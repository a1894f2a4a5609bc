package dev.l4lb.netty.kube.portal;

import java.net.Inet6Address;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.l4lb.core.kube.NoEndpointPort;
import dev.l4lb.core.model.Addresses;
import dev.l4lb.core.model.Cidr;
import dev.l4lb.core.model.Protocol;

/**
 * kube-proxy's answer to a Service port without endpoints, in the filter table: a SYN (a first
 * datagram) to it is REJECTed, or DROPped where a Local traffic policy leaves this node no
 * endpoint, before the balancer could accept it. Without these rules the balancer accepts and
 * resets, and a load balancer's TCP check sees a healthy node. One chain, {@value #CHAIN}, entered
 * from INPUT: node ports, REDIRECTed ClusterIPs (by their original destination) and TPROXYed ones
 * all end there, the node's own connections too (through lo). Rewritten whole with each sync, one
 * iptables-restore transaction per family, and removed on close.
 */
final class NoEndpointRules implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(NoEndpointRules.class);

    static final String TABLE = "filter";
    static final String CHAIN = "L4LB-NO-ENDPOINTS";
    /** How logs name these chains. */
    private static final String WHAT = "no-endpoint";
    static final List<OwnedChains.Jump> JUMPS = List.of(
            new OwnedChains.Jump("INPUT", CHAIN, "l4lb: refuse services without (local) endpoints before the handshake"));

    /** Per family, the chain this instance may write; a family without usable tools is absent. */
    private final Map<IpFamily, OwnedChains> chains;
    /** Families written at least once, whose chain an empty sync must still empty. */
    private final EnumSet<IpFamily> written = EnumSet.noneOf(IpFamily.class);
    /** Why IPv6 is skipped (null when ip6tables may change its filter table). */
    private final String ipv6Problem;
    private boolean ipv6SkipLogged;
    /** The failure last logged, so that one that lasts is logged once, not every sync. */
    private String lastFailure;
    private boolean closed;

    private NoEndpointRules(Map<IpFamily, OwnedChains> chains, String ipv6Problem) {
        this.chains = chains;
        this.ipv6Problem = ipv6Problem;
    }

    /**
     * The chain in every family whose filter table iptables may change, after removing what a
     * run that did not close left; none (every sync a no-op, said once) where IPv4's may not.
     */
    static NoEndpointRules open(NetworkCommands commands) {
        Map<IpFamily, OwnedChains> chains = new EnumMap<>(IpFamily.class);
        String ipv6Problem = null;
        for (IpFamily family : IpFamily.values()) {
            OwnedChains.Tools tools = OwnedChains.find(family, TABLE, commands);
            if (tools.usable()) {
                chains.put(family, new OwnedChains(family, TABLE, JUMPS, tools.iptables(), tools.restore(), commands));
            } else if (family == IpFamily.IPV4) {
                LOG.warn("services without endpoints are accepted and reset, not refused: {}", tools.problem());
                return new NoEndpointRules(Map.of(), null);
            } else {
                ipv6Problem = tools.problem();
            }
        }
        for (OwnedChains owned : chains.values()) {
            owned.removeAllLogged(WHAT, OwnedChains.LEFT_BY_EARLIER_RUN);
        }
        return new NoEndpointRules(chains, ipv6Problem);
    }

    static NoEndpointRules open() {
        return open(NetworkCommands.system());
    }

    /** Removes the chain and its jump that an earlier run left, in every family; returns what could not be removed. */
    static List<String> removeLeftovers(NetworkCommands commands) {
        List<String> errors = new ArrayList<>();
        for (OwnedChains owned : OwnedChains.everyUsable(TABLE, JUMPS, commands)) {
            owned.removeAllLogged(WHAT, OwnedChains.LEFT_BY_EARLIER_RUN).ifPresent(errors::add);
        }
        return errors;
    }

    /**
     * Makes the chain refuse exactly {@code refused}. Never throws: a failed write is logged (once
     * while it keeps failing the same way) and returned, and the rules of before stay in force.
     */
    synchronized PortalSync sync(List<NoEndpointPort> refused) {
        if (chains.isEmpty() || closed) {
            return PortalSync.off(closed ? "closed" : "iptables' filter table is not usable");
        }
        List<String> errors = new ArrayList<>();
        int rules = 0;
        try {
            if (ipv6Problem != null && !ipv6SkipLogged && !rules(IpFamily.IPV6, refused).isEmpty()) {
                LOG.warn("IPv6 services without endpoints are accepted and reset, not refused: {}", ipv6Problem);
                ipv6SkipLogged = true;
            }
            for (Map.Entry<IpFamily, OwnedChains> entry : chains.entrySet()) {
                IpFamily family = entry.getKey();
                List<String> lines = rules(family, refused);
                if (lines.isEmpty() && family != IpFamily.IPV4 && !written.contains(family)) {
                    continue; // never wrote IPv6 rules: leave ip6tables alone
                }
                Optional<String> error = entry.getValue().write(lines);
                if (error.isPresent()) {
                    errors.add(error.get());
                } else {
                    written.add(family);
                    rules += lines.size();
                }
            }
        } catch (RuntimeException e) {
            // A bug rather than a refusal by iptables; the proxier's loop must go on regardless.
            LOG.error("no-endpoint rules sync failed", e);
            return new PortalSync(PortalSync.Outcome.FAILED, 0, List.of("internal error: " + e));
        }
        if (errors.isEmpty()) {
            lastFailure = null;
            return new PortalSync(PortalSync.Outcome.APPLIED, rules, errors);
        }
        String failure = String.join("; ", errors);
        if (!failure.equals(lastFailure)) {
            LOG.warn("rules refusing services without endpoints not updated, the rules of before stay in force: {}", failure);
            lastFailure = failure;
        }
        return new PortalSync(PortalSync.Outcome.FAILED, rules, errors);
    }

    /**
     * The chain's rules for {@code family}: first a RETURN for every packet but a connection's
     * first (a connection in flight keeps going, as kube-proxy matches only {@code --ctstate
     * NEW}), then per refused port and destination its spared sources' RETURNs and the refusal.
     * Empty when nothing is refused, so that the chain costs nothing then.
     */
    static List<String> rules(IpFamily family, List<NoEndpointPort> refused) {
        List<String> lines = new ArrayList<>();
        for (NoEndpointPort port : refused) {
            String protocol = port.protocol().name().toLowerCase(Locale.ROOT);
            String comment = "-m comment --comment "
                    + OwnedChains.quote(port.label() + (port.refusal() == NoEndpointPort.Refusal.REJECT
                    ? " has no endpoints" : " has no local endpoints"));
            String target = target(family, port);
            for (String match : matches(family, port, protocol)) {
                String rule = "-A " + CHAIN + " " + match + " " + comment;
                if (port.spared().isPresent()) {
                    lines.add(rule + " -m addrtype --src-type LOCAL -j RETURN");
                    for (Cidr range : port.spared().get().ranges()) {
                        if (IpFamily.of(range.network()) == family) {
                            lines.add(rule + " -s " + range + " -j RETURN");
                        }
                    }
                }
                lines.add(rule + " " + target);
            }
        }
        if (!lines.isEmpty()) {
            lines.add(0, "-A " + CHAIN + " -m conntrack ! --ctstate NEW -j RETURN");
        }
        return lines;
    }

    /**
     * TCP is answered with a reset, as the balancer's own refusals are: immediate, and not subject
     * to the kernel's ICMP rate limit, which would leave some of a burst of clients resending
     * SYNs for seconds. UDP has only ICMP port unreachable (kube-proxy's REJECT for both).
     */
    private static String target(IpFamily family, NoEndpointPort port) {
        if (port.refusal() == NoEndpointPort.Refusal.DROP) {
            return "-j DROP";
        }
        if (port.protocol() == Protocol.TCP) {
            return "-j REJECT --reject-with tcp-reset";
        }
        return family == IpFamily.IPV4 ? "-j REJECT --reject-with icmp-port-unreachable"
                : "-j REJECT --reject-with icmp6-port-unreachable";
    }

    /**
     * What a packet to {@code port} looks like in {@code family}: a ClusterIP by its original
     * destination (REDIRECT has rewritten the packet's by INPUT), a node address by the packet's,
     * a wildcard listener by any local address (the IPv6 wildcard takes IPv4 too).
     */
    private static List<String> matches(IpFamily family, NoEndpointPort port, String protocol) {
        List<String> matches = new ArrayList<>();
        for (InetSocketAddress clusterIp : port.clusterIps()) {
            if (IpFamily.of(clusterIp.getAddress()) == family) {
                matches.add("-p " + protocol + " -m conntrack --ctorigdst " + Addresses.formatIp(clusterIp.getAddress())
                        + " --ctorigdstport " + clusterIp.getPort());
            }
        }
        for (InetSocketAddress destination : port.destinations()) {
            String dport = "-p " + protocol + " -m " + protocol + " --dport " + destination.getPort();
            if (destination.getAddress().isAnyLocalAddress()) {
                if (family == IpFamily.of(destination.getAddress()) || destination.getAddress() instanceof Inet6Address) {
                    matches.add("-m addrtype --dst-type LOCAL " + dport);
                }
            } else if (IpFamily.of(destination.getAddress()) == family) {
                matches.add("-d " + Addresses.formatIp(destination.getAddress()) + "/" + family.hostPrefix() + " " + dport);
            }
        }
        return matches;
    }

    /** The iptables-restore input of one sync for {@code family}, with the jump when {@code withJumps}. */
    static String restoreText(IpFamily family, List<NoEndpointPort> refused, boolean withJumps) {
        return OwnedChains.restoreText(TABLE, JUMPS, rules(family, refused), withJumps ? JUMPS : List.of());
    }

    /** Removes the jump and the chain in every family; later syncs do nothing. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        for (OwnedChains owned : chains.values()) {
            owned.removeAllLogged(WHAT, null);
        }
    }
}

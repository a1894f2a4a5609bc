package dev.l4lb.netty.kube.portal;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.l4lb.core.kube.Portal;
import dev.l4lb.core.model.Addresses;

/**
 * kube-proxy userspace mode's portals: nat rules that send each ClusterIP:port to its proxy
 * listener, in the chains that mode used ({@code KUBE-PORTALS-CONTAINER} from PREROUTING for
 * traffic from pods and other hosts, {@code KUBE-PORTALS-HOST} from OUTPUT for traffic from the
 * node itself), rewritten whole in one iptables-restore transaction per sync and removed on close.
 *
 * <p>The rules are kube-proxy's ({@code iptablesContainerPortalArgs}, {@code iptablesHostPortalArgs}):
 * {@code -m comment --comment <service> -p <proto> -m <proto> --dport <port> -d <clusterIP>/32}, then
 * for a proxy bound to every address {@code -j REDIRECT --to-ports <proxyPort>} (the receiving
 * interface's address), and for one bound to a single address {@code -j DNAT --to-destination
 * <address>:<proxyPort>}. From the node itself, with a proxy bound to every address, REDIRECT goes
 * to 127.0.0.1, where a UDP listener's reply leaves from the node's address and misses the NAT
 * entry; kube-proxy DNATs to the node's address instead, and so does this class when it is given one.
 */
public final class IptablesPortals implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(IptablesPortals.class);

    static final String TABLE = "nat";
    static final String CONTAINER_CHAIN = "KUBE-PORTALS-CONTAINER";
    static final String HOST_CHAIN = "KUBE-PORTALS-HOST";
    static final List<OwnedChains.Jump> JUMPS = List.of(
            new OwnedChains.Jump("PREROUTING", CONTAINER_CHAIN, "l4lb portals: handle ClusterIPs"),
            new OwnedChains.Jump("OUTPUT", HOST_CHAIN, "l4lb portals: handle ClusterIPs"));

    private final Targets targets;
    /** Per family, the chains this instance may write; a family without usable tools is absent. */
    private final Map<IpFamily, OwnedChains> chains;
    /** Why portals are off (null when they are on). */
    private final String offReason;
    /** Why IPv6 portals are skipped (null when ip6tables is usable). */
    private final String ipv6Problem;
    /** Families written at least once, whose chains an empty sync must still empty. */
    private final EnumSet<IpFamily> written = EnumSet.noneOf(IpFamily.class);
    private boolean ipv6SkipLogged;
    private boolean closed;

    private IptablesPortals(Targets targets, Map<IpFamily, OwnedChains> chains, String offReason, String ipv6Problem) {
        this.targets = targets;
        this.chains = chains;
        this.offReason = offReason;
        this.ipv6Problem = ipv6Problem;
    }

    /**
     * Where the proxy listeners are, which decides where the rules send traffic.
     *
     * @param bindAddress the proxy listeners' address: {@code 0.0.0.0} or {@code ::} for every
     *                    interface (REDIRECT), else that address (DNAT)
     * @param nodeAddress for a wildcard {@code bindAddress}: the node's own address, where traffic
     *                    from the node itself is DNATed (kube-proxy's hostIP); empty: REDIRECT it
     */
    public record Targets(InetAddress bindAddress, Optional<InetAddress> nodeAddress) {
        public Targets {
            Objects.requireNonNull(bindAddress, "bindAddress");
            Objects.requireNonNull(nodeAddress, "nodeAddress");
        }

        /** The target of a rule in {@code chain}, for traffic of {@code family}; empty when no rule can reach the listener. */
        Optional<String> target(String chain, IpFamily family, int proxyPort) {
            String redirect = "-j REDIRECT --to-ports " + proxyPort;
            if (bindAddress.isAnyLocalAddress()) {
                if (chain.equals(HOST_CHAIN) && nodeAddress.isPresent() && IpFamily.of(nodeAddress.get()) == family) {
                    return Optional.of(dnat(nodeAddress.get(), proxyPort));
                }
                return Optional.of(redirect);
            }
            if (IpFamily.of(bindAddress) != family) {
                return Optional.empty();
            }
            if (bindAddress.isLoopbackAddress()) {
                // From the node, REDIRECT goes to the loopback address; from anywhere else traffic
                // cannot be steered to a loopback listener (the kernel drops it as martian).
                return chain.equals(HOST_CHAIN) ? Optional.of(redirect) : Optional.empty();
            }
            return Optional.of(dnat(bindAddress, proxyPort));
        }

        private static String dnat(InetAddress address, int port) {
            return "-j DNAT --to-destination " + Addresses.format(new InetSocketAddress(address, port));
        }
    }

    /** Portals to listeners bound to {@code bindAddress}; from the node itself REDIRECT as well. */
    public static IptablesPortals open(InetAddress bindAddress) {
        return open(new Targets(bindAddress, Optional.empty()), NetworkCommands.system());
    }

    /** Portals to listeners bound to {@code bindAddress}; from the node itself DNAT to {@code nodeAddress}. */
    public static IptablesPortals open(InetAddress bindAddress, InetAddress nodeAddress) {
        return open(new Targets(bindAddress, Optional.of(nodeAddress)), NetworkCommands.system());
    }

    /**
     * Finds the tools and removes what a run that did not close left behind. Never throws: when
     * iptables is missing or not permitted the portals are off, said once in one WARN line, and
     * every {@link #sync} is a no-op that reports it.
     */
    static IptablesPortals open(Targets targets, NetworkCommands commands) {
        OwnedChains.Tools v4 = OwnedChains.find(IpFamily.IPV4, TABLE, commands);
        if (!v4.usable()) {
            String reason = v4.problem();
            LOG.warn("portals are off: {}; services are served on their proxy listeners only", reason);
            return new IptablesPortals(targets, Map.of(), reason, null);
        }
        Map<IpFamily, OwnedChains> chains = new EnumMap<>(IpFamily.class);
        chains.put(IpFamily.IPV4, new OwnedChains(IpFamily.IPV4, TABLE, JUMPS, v4.iptables(), v4.restore(), commands));
        OwnedChains.Tools v6 = OwnedChains.find(IpFamily.IPV6, TABLE, commands);
        if (v6.usable()) {
            chains.put(IpFamily.IPV6, new OwnedChains(IpFamily.IPV6, TABLE, JUMPS, v6.iptables(), v6.restore(), commands));
        }
        IptablesPortals portals = new IptablesPortals(targets, chains, null, v6.usable() ? null : v6.problem());
        for (OwnedChains owned : chains.values()) {
            owned.removeAllLogged("portal", OwnedChains.LEFT_BY_EARLIER_RUN);
        }
        if (targets.bindAddress().isLoopbackAddress()) {
            LOG.warn("proxy listeners are bound to {}: portals steer only the node's own traffic to them, "
                    + "traffic from pods and other hosts cannot reach a loopback listener", Addresses.formatIp(targets.bindAddress()));
        }
        LOG.info("portals on: {} chains {} and {} ({})", TABLE, CONTAINER_CHAIN, HOST_CHAIN,
                v6.usable() ? "IPv4 and IPv6" : "IPv4 only; IPv6: " + v6.problem());
        return portals;
    }

    /**
     * Removes the chains and jumps that REDIRECT portals left behind (a run that did not close,
     * or one in this mode before a restart in another), as kube-proxy's CleanupLeftovers does for
     * the modes it does not run. Quiet where iptables is not usable.
     */
    public static List<String> removeLeftovers() {
        return removeLeftovers(NetworkCommands.system());
    }

    /** @return what could not be removed, with iptables' words; empty when nothing is left */
    static List<String> removeLeftovers(NetworkCommands commands) {
        List<String> errors = new ArrayList<>();
        for (OwnedChains owned : OwnedChains.everyUsable(TABLE, JUMPS, commands)) {
            owned.removeAllLogged("portal", OwnedChains.LEFT_BY_EARLIER_RUN).ifPresent(errors::add);
        }
        return errors;
    }

    /** False when portals are off on this node; {@link #offReason()} says why. */
    public boolean enabled() {
        return offReason == null;
    }

    /** Why portals are off; empty when they are on. */
    public Optional<String> offReason() {
        return Optional.ofNullable(offReason);
    }

    /**
     * Makes l4lb's chains hold exactly one container rule and one host rule per portal: one
     * iptables-restore transaction per family, IPv4 portals with iptables-restore, IPv6 ones with
     * ip6tables-restore (skipped, with a log line, where that is missing). Never throws: a failed
     * write is logged with iptables' message and returned, and the rules of before stay in force.
     */
    public synchronized PortalSync sync(List<Portal> portals) {
        if (offReason != null) {
            return PortalSync.off(offReason);
        }
        if (closed) {
            return PortalSync.off("portals are closed");
        }
        try {
            return write(portals);
        } catch (RuntimeException e) {
            // A bug rather than a refusal by iptables; the proxier's loop must go on regardless.
            LOG.error("portal sync failed", e);
            return new PortalSync(PortalSync.Outcome.FAILED, 0, List.of("internal error: " + e));
        }
    }

    private PortalSync write(List<Portal> portals) {
        List<String> errors = new ArrayList<>();
        int rules = 0;
        boolean failed = false;
        for (IpFamily family : IpFamily.values()) {
            List<Portal> ofFamily = portals.stream().filter(p -> IpFamily.of(p.address()) == family).toList();
            OwnedChains owned = chains.get(family);
            if (owned == null) {
                if (!ofFamily.isEmpty()) {
                    String skipped = ofFamily.size() + " " + family + " portal(s) skipped: " + ipv6Problem;
                    errors.add(skipped);
                    if (!ipv6SkipLogged) {
                        LOG.warn("{}; those services are served on their proxy listeners only", skipped);
                        ipv6SkipLogged = true;
                    }
                }
                continue;
            }
            if (ofFamily.isEmpty() && family != IpFamily.IPV4 && !written.contains(family)) {
                continue; // never wrote IPv6 rules: leave ip6tables alone
            }
            List<String> lines = rules(family, ofFamily, targets);
            Optional<String> error = owned.write(lines);
            if (error.isPresent()) {
                LOG.warn("portals not updated, the rules of before stay in force: {}", error.get());
                errors.add(error.get());
                failed = true;
            } else {
                written.add(family);
                rules += lines.size();
            }
        }
        LOG.debug("portals synced: {} rule(s)", rules);
        return new PortalSync(failed ? PortalSync.Outcome.FAILED : PortalSync.Outcome.APPLIED, rules, errors);
    }

    /** The rule lines for {@code family}'s portals (others are left out), container chain first. */
    static List<String> rules(IpFamily family, List<Portal> portals, Targets targets) {
        List<String> lines = new ArrayList<>();
        for (String chain : List.of(CONTAINER_CHAIN, HOST_CHAIN)) {
            for (Portal portal : portals) {
                if (IpFamily.of(portal.address()) != family) {
                    continue;
                }
                Optional<String> target = targets.target(chain, family, portal.proxyPort());
                if (target.isEmpty()) {
                    continue;
                }
                String protocol = portal.protocol().name().toLowerCase(Locale.ROOT);
                lines.add("-A " + chain + " -m comment --comment " + OwnedChains.quote(portal.service())
                        + " -p " + protocol + " -m " + protocol + " --dport " + portal.port()
                        + " -d " + Addresses.formatIp(portal.address()) + "/" + family.hostPrefix()
                        + " " + target.get());
            }
        }
        return lines;
    }

    /**
     * The iptables-restore input of one sync for {@code family}: both chains declared (which
     * empties them), a container and a host rule per portal of that family, and the jumps when
     * {@code withJumps} (a sync adds those only where {@code iptables -C} does not find them).
     */
    static String restoreText(IpFamily family, List<Portal> portals, Targets targets, boolean withJumps) {
        return OwnedChains.restoreText(TABLE, JUMPS, rules(family, portals, targets), withJumps ? JUMPS : List.of());
    }

    /** Removes the jumps and the chains, in every family written or found usable; later syncs do nothing. */
    @Override
    public synchronized void close() {
        if (closed || offReason != null) {
            return;
        }
        closed = true;
        for (OwnedChains owned : chains.values()) {
            owned.removeAllLogged("portal", null);
        }
    }
}

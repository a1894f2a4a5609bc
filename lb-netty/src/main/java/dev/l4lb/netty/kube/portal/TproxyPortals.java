package dev.l4lb.netty.kube.portal;

import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.l4lb.core.model.Addresses;
import dev.l4lb.core.model.Cidr;

/**
 * Transparent portals ({@code --portals tproxy}): a rule set that does not grow with services
 * sends all TCP traffic to the service CIDRs (and to a few extra address:ports, such as local
 * externalIPs) to one transparent listener, which sees each connection's original destination as
 * its local address. TCP only: UDP ports keep their {@link IptablesPortals REDIRECT portals}.
 *
 * <p>In the mangle table, chain {@value #PREROUTING_CHAIN} (jumped to from PREROUTING) has
 * {@code -d <cidr> -p tcp -j TPROXY --on-ip <listener> --on-port <port> --tproxy-mark MARK/MARK}
 * per CIDR; TPROXY works in PREROUTING only, so chain {@value #OUTPUT_CHAIN} (from OUTPUT) marks
 * the node's own packets to those destinations, which reroutes them through {@code lo} back into
 * PREROUTING. Policy routing delivers marked packets locally: {@code ip rule add priority
 * RULE_PRIORITY fwmark MARK/MARK lookup ROUTE_TABLE} and {@code ip route replace local 0.0.0.0/0
 * dev lo table ROUTE_TABLE} (and the same with {@code ::/0} for IPv6 CIDRs).
 */
public final class TproxyPortals implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(TproxyPortals.class);

    static final String TABLE = "mangle";
    static final String PREROUTING_CHAIN = "L4LB-TPROXY";
    static final String OUTPUT_CHAIN = "L4LB-TPROXY-OUTPUT";
    static final List<OwnedChains.Jump> JUMPS = List.of(
            new OwnedChains.Jump("PREROUTING", PREROUTING_CHAIN, "l4lb portals: service CIDRs to the transparent listener"),
            new OwnedChains.Jump("OUTPUT", OUTPUT_CHAIN, "l4lb portals: the node's own service traffic through lo"));

    /** The packet mark (also its mask) that routes diverted packets locally: see {@link LocalDelivery#TPROXY}. */
    public static final int MARK = LocalDelivery.TPROXY.mark();
    /** The routing table that holds the one {@code local default dev lo} route. */
    public static final int ROUTE_TABLE = LocalDelivery.TPROXY.table();
    /** The {@code ip rule} priority: after {@code local} (0), before {@code main} (32766). */
    public static final int RULE_PRIORITY = LocalDelivery.TPROXY.priority();

    private final List<Cidr> serviceCidrs;
    private final InetSocketAddress listener;
    private final Map<IpFamily, Family> families;
    private final String offReason;
    private final Set<IpFamily> skipLogged = EnumSet.noneOf(IpFamily.class);
    private boolean closed;

    /** One family's chains and routing, set up at open. */
    private record Family(OwnedChains chains, Path ip, boolean active) {
    }

    private TproxyPortals(List<Cidr> serviceCidrs, InetSocketAddress listener, Map<IpFamily, Family> families, String offReason) {
        this.serviceCidrs = serviceCidrs;
        this.listener = listener;
        this.families = families;
        this.offReason = offReason;
    }

    /**
     * Removes what a run that did not close left behind, then installs the rules and the policy
     * routing for every family among {@code serviceCidrs} and {@code extra}. Never throws: when
     * iptables or ip is missing or not permitted, or this kernel has no TPROXY target, the portals
     * are off, said once in one WARN line, and {@link #sync} is a no-op that reports it.
     *
     * @param serviceCidrs the cluster's service CIDRs, diverted whole (every port)
     * @param extra        further destinations to divert, each address:port (a local externalIP:
     *                     the node's other ports on that address stay its own)
     * @param listener     the transparent listener (IP_TRANSPARENT); {@code 0.0.0.0} or {@code ::}:
     *                     the receiving interface's address, which a wildcard listener takes
     */
    public static TproxyPortals open(List<Cidr> serviceCidrs, List<InetSocketAddress> extra, InetSocketAddress listener) {
        return open(serviceCidrs, extra, listener, NetworkCommands.system());
    }

    static TproxyPortals open(List<Cidr> serviceCidrs, List<InetSocketAddress> extra, InetSocketAddress listener,
                              NetworkCommands commands) {
        List<Cidr> cidrs = List.copyOf(serviceCidrs);
        Optional<Path> ip = commands.find("ip");
        if (ip.isEmpty()) {
            return off(cidrs, listener, commands.notFound("ip"));
        }
        // Leftovers of a crashed run go first, in every family, wanted now or not.
        Map<IpFamily, OwnedChains> usable = removeLeftovers(commands, ip.get(), new ArrayList<>()); // logged as they happen
        Set<IpFamily> wanted = EnumSet.noneOf(IpFamily.class);
        cidrs.forEach(c -> wanted.add(IpFamily.of(c.network())));
        extra.forEach(a -> wanted.add(IpFamily.of(a.getAddress())));
        if (wanted.isEmpty()) {
            return off(cidrs, listener, "no service CIDR to divert");
        }
        Map<IpFamily, Family> families = new EnumMap<>(IpFamily.class);
        List<String> problems = new ArrayList<>();
        for (IpFamily family : wanted) {
            OwnedChains chains = usable.get(family);
            if (chains == null) {
                problems.add(family + ": " + OwnedChains.find(family, TABLE, commands).problem());
                continue;
            }
            Optional<String> problem = install(family, chains, ip.get(), commands, cidrs, extra, listener);
            if (problem.isPresent()) {
                removeAll(chains, ip.get(), null);
                // iptables-restore's errors name the family already ("IPv4 mangle: ...").
                problems.add(problem.get().startsWith(family.toString()) ? problem.get() : family + ": " + problem.get());
                families.put(family, new Family(chains, ip.get(), false));
            } else {
                families.put(family, new Family(chains, ip.get(), true));
            }
        }
        if (families.values().stream().noneMatch(Family::active)) {
            return off(cidrs, listener, String.join("; ", problems), families);
        }
        if (!problems.isEmpty()) {
            LOG.warn("TPROXY portals are off for {}; that family's TCP ClusterIP traffic does not reach the transparent listener",
                    String.join("; ", problems));
        }
        LOG.info("TPROXY portals on: {} to the transparent listener {} (mark 0x{}, table {})", cidrs,
                Addresses.format(listener), Integer.toHexString(MARK), ROUTE_TABLE);
        return new TproxyPortals(cidrs, listener, families, null);
    }

    /**
     * Removes the chains, jumps, ip rules and routes that TPROXY portals left behind (a run that
     * did not close, or one in this mode before a restart in another), as kube-proxy's
     * CleanupLeftovers does for the modes it does not run. Quiet where iptables is not usable.
     */
    public static List<String> removeLeftovers() {
        return removeLeftovers(NetworkCommands.system());
    }

    static List<String> removeLeftovers(NetworkCommands commands) {
        List<String> errors = new ArrayList<>();
        commands.find("ip").ifPresent(ip -> removeLeftovers(commands, ip, errors));
        return errors;
    }

    /**
     * Cleans every family whose tools are usable and returns those families' chains; what could
     * not be removed goes to {@code errors}.
     */
    private static Map<IpFamily, OwnedChains> removeLeftovers(NetworkCommands commands, Path ip, List<String> errors) {
        Map<IpFamily, OwnedChains> usable = new EnumMap<>(IpFamily.class);
        for (OwnedChains chains : OwnedChains.everyUsable(TABLE, JUMPS, commands)) {
            errors.addAll(removeAll(chains, ip, OwnedChains.LEFT_BY_EARLIER_RUN));
            usable.put(chains.family(), chains);
        }
        return usable;
    }

    private static TproxyPortals off(List<Cidr> cidrs, InetSocketAddress listener, String reason) {
        return off(cidrs, listener, reason, Map.of());
    }

    private static TproxyPortals off(List<Cidr> cidrs, InetSocketAddress listener, String reason, Map<IpFamily, Family> families) {
        LOG.warn("TPROXY portals are off: {}", reason);
        return new TproxyPortals(cidrs, listener, families, reason);
    }

    private static Optional<String> install(IpFamily family, OwnedChains chains, Path ip, NetworkCommands commands,
                                            List<Cidr> cidrs, List<InetSocketAddress> extra, InetSocketAddress listener) {
        if (onIp(family, listener.getAddress()).isEmpty()) {
            return Optional.of("the transparent listener " + Addresses.format(listener) + " takes no " + family + " connections");
        }
        Optional<String> error = chains.write(rules(family, cidrs, extra, listener));
        if (error.isPresent()) {
            return error;
        }
        return LocalDelivery.TPROXY.install(commands, ip, family);
    }

    /**
     * TPROXY's {@code --on-ip} for {@code family}: the listener's address, or none for a wildcard
     * listener (the receiving interface's address then). Empty when the listener takes no
     * connections of that family: {@code 0.0.0.0} and IPv4 addresses take IPv4 only, {@code ::}
     * both, another IPv6 address IPv6 only.
     */
    static Optional<String> onIp(IpFamily family, InetAddress listener) {
        if (listener.isAnyLocalAddress()) {
            boolean takes = family == IpFamily.IPV4 || listener instanceof Inet6Address;
            return takes ? Optional.of("") : Optional.empty();
        }
        return IpFamily.of(listener) == family ? Optional.of(" --on-ip " + Addresses.formatIp(listener)) : Optional.empty();
    }

    /** The rule lines of {@code family}: per CIDR, then per extra address:port, a TPROXY rule and an OUTPUT mark rule. */
    static List<String> rules(IpFamily family, List<Cidr> cidrs, List<InetSocketAddress> extra, InetSocketAddress listener) {
        Optional<String> onIp = onIp(family, listener.getAddress());
        if (onIp.isEmpty()) {
            return List.of();
        }
        List<String> matches = new ArrayList<>();
        for (Cidr cidr : cidrs) {
            if (IpFamily.of(cidr.network()) == family) {
                matches.add("-d " + masked(cidr) + " -p tcp");
            }
        }
        for (InetSocketAddress address : extra) {
            if (IpFamily.of(address.getAddress()) == family) {
                matches.add("-d " + Addresses.formatIp(address.getAddress()) + "/" + family.hostPrefix()
                        + " -p tcp -m tcp --dport " + address.getPort());
            }
        }
        String mark = LocalDelivery.TPROXY.markText();
        List<String> lines = new ArrayList<>();
        for (String match : matches) {
            lines.add("-A " + PREROUTING_CHAIN + " " + match + " -j TPROXY" + onIp.get() + " --on-port " + listener.getPort()
                    + " --tproxy-mark " + mark);
        }
        for (String match : matches) {
            lines.add("-A " + OUTPUT_CHAIN + " " + match + " -j MARK --set-mark " + mark);
        }
        return lines;
    }

    /** The iptables-restore input for {@code family}, with the jumps when {@code withJumps}. */
    static String restoreText(IpFamily family, List<Cidr> cidrs, List<InetSocketAddress> extra, InetSocketAddress listener,
                              boolean withJumps) {
        return OwnedChains.restoreText(TABLE, JUMPS, rules(family, cidrs, extra, listener), withJumps ? JUMPS : List.of());
    }

    /** {@code 10.96.0.0/12} for {@code 10.96.0.1/12}: the form iptables-save shows, so that the rules read back alike. */
    static String masked(Cidr cidr) {
        byte[] bytes = cidr.network().getAddress();
        for (int bit = cidr.prefixLength(); bit < bytes.length * 8; bit++) {
            bytes[bit / 8] &= (byte) ~(0x80 >>> (bit % 8));
        }
        try {
            return Addresses.formatIp(InetAddress.getByAddress(bytes)) + "/" + cidr.prefixLength();
        } catch (UnknownHostException e) {
            throw new IllegalStateException(e); // a raw 4- or 16-byte address is always accepted
        }
    }

    /** False when the portals are off on this node; {@link #offReason()} says why. */
    public boolean enabled() {
        return offReason == null;
    }

    /** Why the portals are off; empty when they are on. */
    public Optional<String> offReason() {
        return Optional.ofNullable(offReason);
    }

    /**
     * Puts {@code extra} (intercepted address:ports; those outside every service CIDR, such as
     * local externalIPs, need rules of their own, the others are covered by the CIDR rules) in
     * place of the ones before; the CIDR rules and the routing stay. One transaction per family.
     * Never throws: a failed write is logged and returned, and the rules of before stay in force.
     */
    public synchronized PortalSync sync(List<InetSocketAddress> intercepted) {
        List<InetSocketAddress> extra = intercepted.stream().filter(a -> !Cidr.anyContains(serviceCidrs, a.getAddress())).toList();
        if (offReason != null) {
            return PortalSync.off(offReason);
        }
        if (closed) {
            return PortalSync.off("portals are closed");
        }
        List<String> errors = new ArrayList<>();
        int rules = 0;
        boolean failed = false;
        try {
            for (IpFamily family : IpFamily.values()) {
                Family state = families.get(family);
                boolean hasExtra = extra.stream().anyMatch(a -> IpFamily.of(a.getAddress()) == family);
                if (state == null || !state.active()) {
                    if (hasExtra) {
                        String skipped = family + " addresses skipped: TPROXY portals are off for " + family;
                        errors.add(skipped);
                        if (skipLogged.add(family)) {
                            LOG.warn(skipped);
                        }
                    }
                    continue;
                }
                List<String> lines = rules(family, serviceCidrs, extra, listener);
                Optional<String> error = state.chains().write(lines);
                if (error.isPresent()) {
                    LOG.warn("TPROXY portals not updated, the rules of before stay in force: {}", error.get());
                    errors.add(error.get());
                    failed = true;
                } else {
                    rules += lines.size();
                }
                Optional<String> routingError = repairRouting(family, state);
                if (routingError.isPresent()) {
                    LOG.warn("TPROXY policy routing could not be restored: {}", routingError.get());
                    errors.add(routingError.get());
                    failed = true;
                }
            }
        } catch (RuntimeException e) {
            LOG.error("TPROXY portal sync failed", e);
            return new PortalSync(PortalSync.Outcome.FAILED, 0, List.of("internal error: " + e));
        }
        return new PortalSync(failed ? PortalSync.Outcome.FAILED : PortalSync.Outcome.APPLIED, rules, errors);
    }

    private static Optional<String> repairRouting(IpFamily family, Family state) {
        return LocalDelivery.TPROXY.repair(state.chains().commands(), state.ip(), family);
    }

    /** Removes the chains, their jumps, the ip rule and the routing table's route, in every family set up. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        for (Family family : families.values()) {
            if (family.active()) {
                removeAll(family.chains(), family.ip(), null);
            }
        }
    }

    /** Removes our chains and jumps of one family, then its ip rule(s) and the route(s) in our table; returns what could not be removed. */
    private static List<String> removeAll(OwnedChains chains, Path ip, String leftBy) {
        List<String> errors = new ArrayList<>();
        OwnedChains.Removal removal = chains.removeAll();
        if (removal.error() != null) {
            LOG.warn("could not remove the {} TPROXY chains: {}", chains.family(), removal.error());
            errors.add("could not remove the " + chains.family() + " TPROXY chains: " + removal.error());
        }
        LocalDelivery.Removed routing = LocalDelivery.TPROXY.remove(chains.commands(), ip, chains.family(), errors);
        if (removal.removedAnything() || routing.anything()) {
            LOG.info("removed {} {} TPROXY chain(s), {} jump rule(s), {} ip rule(s) and the routes of table {}{}",
                    removal.chains(), chains.family(), removal.jumps(), routing.rules(), ROUTE_TABLE, leftBy == null ? "" : " " + leftBy);
        }
        return errors;
    }
}

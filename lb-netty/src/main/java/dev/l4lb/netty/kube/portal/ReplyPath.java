package dev.l4lb.netty.kube.portal;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import dev.l4lb.core.model.Cidr;

import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The kernel's half of connecting to endpoints from clients' addresses (HAProxy's {@code usesrc
 * clientip}): an endpoint answers the client's address, and on its way back through this node
 * the answer must reach the balancer's transparent socket, not be forwarded to the client. In the
 * mangle table, chain {@value #CHAIN} (jumped to from PREROUTING) marks TCP packets that belong to
 * a local transparent socket ({@code -m socket --transparent}: established and connecting
 * sockets; a wildcard listener is not matched, so forwarded traffic is never taken), and
 * {@link LocalDelivery#REPLIES} delivers marked packets locally. The rules do not depend on
 * services: written once, re-asserted at each sync, removed at close and by {@code lb kube --cleanup}.
 *
 * <p>An endpoint whose replies do not pass through this node (a pod not routed via it, pods on
 * one bridge) cannot be helped here; the data plane notices and connects to it from the node.
 */
public final class ReplyPath implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(ReplyPath.class);

    static final String TABLE = "mangle";
    static final String CHAIN = "L4LB-REPLIES";
    static final List<OwnedChains.Jump> JUMPS = List.of(
            new OwnedChains.Jump("PREROUTING", CHAIN, "l4lb: endpoints' replies to connections from clients' addresses"));
    private static final LocalDelivery ROUTING = LocalDelivery.REPLIES;
    /** The routing table that delivers marked replies locally. */
    public static final int ROUTE_TABLE = ROUTING.table();

    /** Per family: its chains and ip when set up; absent when that family could not be. */
    private final Map<IpFamily, OwnedChains> on;
    private final @Nullable Path ip;
    private final Map<IpFamily, String> problems;
    private final List<Cidr> endpoints;
    private boolean closed;

    private ReplyPath(Map<IpFamily, OwnedChains> on, Path ip, Map<IpFamily, String> problems, List<Cidr> endpoints) {
        this.on = on;
        this.ip = ip;
        this.problems = problems;
        this.endpoints = List.copyOf(endpoints);
    }

    /**
     * Where the reply path is set up, or why not, per family.
     *
     * @param ipv4      why IPv4 connections cannot come from clients' addresses; null when they can
     * @param ipv6      the same for IPv6
     * @param endpoints where it takes endpoints' replies from (the pod ranges); empty: anywhere
     */
    public record Status(@Nullable String ipv4, @Nullable String ipv6, List<Cidr> endpoints) {
        public Status {
            endpoints = List.copyOf(endpoints);
        }

        /** Nothing set up, for {@code why}. */
        public static Status off(String why) {
            return new Status(why, why, List.of());
        }
    }

    /**
     * Removes what an earlier run left, then sets up every family it can. Never throws.
     *
     * @param endpoints where endpoints' replies come from (the cluster's pod ranges); empty: anywhere
     */
    public static ReplyPath open(List<Cidr> endpoints) {
        return open(endpoints, NetworkCommands.system());
    }

    static ReplyPath open(List<Cidr> endpoints, NetworkCommands commands) {
        Map<IpFamily, String> problems = new EnumMap<>(IpFamily.class);
        Map<IpFamily, OwnedChains> on = new EnumMap<>(IpFamily.class);
        Optional<Path> ip = commands.find("ip");
        if (ip.isEmpty()) {
            removeLeftovers(commands, null, new ArrayList<>()); // a chain a run with ip left still goes
            String missing = commands.notFound("ip");
            for (IpFamily family : IpFamily.values()) {
                problems.put(family, missing);
            }
            LOG.warn("the reply path for connections from clients' addresses is off: {}", missing);
            return new ReplyPath(on, null, problems, endpoints);
        }
        removeLeftovers(commands, ip.get(), new ArrayList<>());
        for (IpFamily family : IpFamily.values()) {
            OwnedChains.Tools tools = OwnedChains.find(family, TABLE, commands);
            if (!tools.usable()) {
                problems.put(family, tools.problem());
                continue;
            }
            OwnedChains chains = new OwnedChains(family, TABLE, JUMPS, tools.iptables(), tools.restore(), commands);
            Optional<String> problem = chains.write(rules(family, endpoints))
                    .or(() -> ROUTING.install(commands, ip.get(), family).map(p -> family + ": " + p));
            if (problem.isPresent()) {
                remove(chains, ip.get(), new ArrayList<>());
                problems.put(family, problem.get());
            } else {
                on.put(family, chains);
            }
        }
        if (on.isEmpty()) {
            LOG.warn("the reply path for connections from clients' addresses is off: {}", problems.values());
        } else {
            LOG.info("reply path on ({}): mangle chain {}, mark 0x{}, table {}{}", on.keySet(), CHAIN,
                    Integer.toHexString(ROUTING.mark()), ROUTING.table(), problems.isEmpty() ? "" : "; off for " + problems);
        }
        return new ReplyPath(on, ip.get(), problems, endpoints);
    }

    /**
     * The chain's rules for {@code family}: one per pod range of that family, or one for any
     * source when it has none. The socket match looks a socket up per packet, so it sees only
     * what can be a reply to one of ours: the reply direction of a tracked TCP connection (a
     * lookup in the conntrack entry the packet already has), from where endpoints are.
     */
    static List<String> rules(IpFamily family, List<Cidr> endpoints) {
        String match = " -p tcp -m conntrack --ctdir REPLY -m socket --transparent -j MARK --set-mark " + ROUTING.markText();
        List<String> sources = endpoints.stream().filter(c -> IpFamily.of(c.network()) == family)
                .map(c -> " -s " + TproxyPortals.masked(c)).toList();
        if (sources.isEmpty()) {
            return List.of("-A " + CHAIN + match);
        }
        return sources.stream().map(source -> "-A " + CHAIN + source + match).toList();
    }

    /** Where it is set up now. */
    public synchronized Status status() {
        if (closed) {
            return Status.off("the reply path is closed");
        }
        return new Status(problems.get(IpFamily.IPV4), problems.get(IpFamily.IPV6), endpoints);
    }

    /**
     * Puts back what someone removed (the chain's rule or its jump, the ip rule, the route), as
     * each sync re-asserts the portals.
     *
     * @return false when something could not be put back (logged)
     */
    public synchronized boolean sync() {
        if (closed) {
            return true;
        }
        boolean ok = true;
        for (Map.Entry<IpFamily, OwnedChains> family : on.entrySet()) {
            Optional<String> problem = family.getValue().write(rules(family.getKey(), endpoints))
                    .or(() -> ROUTING.repair(family.getValue().commands(), ip, family.getKey()));
            if (problem.isPresent()) {
                // Until it is back, that family's connections come from the node (status() says so).
                if (problems.put(family.getKey(), "the reply path could not be restored: " + problem.get()) == null) {
                    LOG.warn("reply path ({}) could not be restored: {}", family.getKey(), problem.get());
                }
                ok = false;
            } else if (problems.remove(family.getKey()) != null) {
                LOG.info("reply path ({}) restored", family.getKey());
            }
        }
        return ok;
    }

    /** Removes the chain, its jump, the ip rule and the route of every family set up. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        List<String> errors = new ArrayList<>();
        on.values().forEach(chains -> remove(chains, ip, errors));
    }

    /** What an earlier run left, in every family whose tools work; returns what could not be removed. */
    public static List<String> removeLeftovers() {
        return removeLeftovers(NetworkCommands.system());
    }

    static List<String> removeLeftovers(NetworkCommands commands) {
        List<String> errors = new ArrayList<>();
        removeLeftovers(commands, commands.find("ip").orElse(null), errors);
        return errors;
    }

    /** @param ip null where it is missing: then only the chains go (no ip rule can have been added without it) */
    private static void removeLeftovers(NetworkCommands commands, @Nullable Path ip, List<String> errors) {
        for (OwnedChains chains : OwnedChains.everyUsable(TABLE, JUMPS, commands)) {
            remove(chains, ip, errors);
        }
    }

    private static void remove(OwnedChains chains, @Nullable Path ip, List<String> errors) {
        OwnedChains.Removal removal = chains.removeAll();
        if (removal.error() != null) {
            LOG.warn("could not remove the {} reply path chain: {}", chains.family(), removal.error());
            errors.add("could not remove the " + chains.family() + " reply path chain: " + removal.error());
        }
        LocalDelivery.Removed routing = ip == null ? new LocalDelivery.Removed(0, false)
                : ROUTING.remove(chains.commands(), ip, chains.family(), errors);
        if (removal.removedAnything() || routing.anything()) {
            LOG.info("removed the {} reply path: {} chain(s), {} jump rule(s), {} ip rule(s) and the routes of table {}",
                    chains.family(), removal.chains(), removal.jumps(), routing.rules(), ROUTING.table());
        }
    }
}

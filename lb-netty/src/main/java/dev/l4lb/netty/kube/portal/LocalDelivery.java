package dev.l4lb.netty.kube.portal;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Policy routing that delivers packets carrying one mark bit to this host, whatever their
 * destination: {@code ip rule add priority P fwmark M/M lookup T} and {@code ip route replace
 * local <everything> dev lo table T}, per IP family. TPROXY needs it for the connections it
 * diverts, and connections made from clients' addresses need it for their endpoints' replies.
 * Each use has its own bit and table, so that one is set up and removed without the other.
 *
 * @param mark     the mark bit (also its mask)
 * @param table    the routing table holding the one {@code local} route
 * @param priority the {@code ip rule} priority: after {@code local} (0), before {@code main} (32766)
 * @param purpose  what it is for, in log lines
 */
record LocalDelivery(int mark, int table, int priority, String purpose) {
    private static final Logger LOG = LoggerFactory.getLogger(LocalDelivery.class);

    /**
     * TPROXY portals' packets. Bit 13: kube-proxy uses 14 and 15 (masquerade, drop), Cilium 8 to
     * 11 (and 12 to 15 for its IPsec key index), Weave 17 and 18, Calico 16 to 31, Istio's 1337
     * bits 0, 3 to 5, 8 and 10, the AWS VPC CNI bit 7. Table 0x4c34 is "L4" in ASCII.
     */
    static final LocalDelivery TPROXY = new LocalDelivery(0x2000, 0x4c34, 0x4c34, "TPROXY");
    /**
     * Endpoints' replies to connections made from clients' addresses: bit 6, which none of those
     * uses (its rule sends every packet carrying the bit to this host, whoever set it), and the
     * next table.
     */
    static final LocalDelivery REPLIES = new LocalDelivery(0x40, 0x4c35, 0x4c35, "reply path");

    /** {@code 0x2000/0x2000}: the mark and its mask, as iptables and ip write them. */
    String markText() {
        return "0x" + Integer.toHexString(mark) + "/0x" + Integer.toHexString(mark);
    }

    /** The {@code ip} arguments that deliver marked packets of {@code family} locally: the rule, then the route. */
    List<List<String>> commands(IpFamily family) {
        return List.of(
                List.of(family.ipFlag(), "rule", "add", "priority", String.valueOf(priority),
                        "fwmark", markText(), "lookup", String.valueOf(table)),
                List.of(family.ipFlag(), "route", "replace", "local", family.everything(), "dev", "lo",
                        "table", String.valueOf(table)));
    }

    /** Adds the rule and the route; empty when done, else the command and ip's complaint. */
    Optional<String> install(NetworkCommands run, Path ip, IpFamily family) {
        for (List<String> args : commands(family)) {
            NetworkCommands.Result result = run.run(prefixed(ip, args));
            if (!result.ok()) {
                return Optional.of(String.join(" ", args) + ": " + result.failure());
            }
        }
        return Optional.empty();
    }

    /**
     * Puts back the ip rule and the local route when someone removed them (an {@code ip rule
     * flush}, a network manager's restart): without them marked packets are not delivered
     * locally. Each sync checks, as kube-proxy re-asserts its rules.
     */
    Optional<String> repair(NetworkCommands run, Path ip, IpFamily family) {
        List<List<String>> routing = commands(family);
        NetworkCommands.Result rules = run.run(List.of(ip.toString(), family.ipFlag(), "rule", "list", "priority",
                String.valueOf(priority)));
        if (rules.ok() && !rules.out().contains("lookup " + table)) {
            LOG.warn("{} ip rule {} was gone: adding it again", purpose, priority);
            NetworkCommands.Result added = run.run(prefixed(ip, routing.get(0)));
            if (!added.ok()) {
                return Optional.of("ip " + String.join(" ", routing.get(0)) + ": " + added.failure());
            }
        }
        NetworkCommands.Result route = run.run(prefixed(ip, routing.get(1))); // replace: the same when it is there
        return route.ok() ? Optional.empty() : Optional.of("ip " + String.join(" ", routing.get(1)) + ": " + route.failure());
    }

    /**
     * Removes every copy of the rule and the table's routes in {@code family}; what could not be
     * removed goes to {@code errors}.
     *
     * @return whether there was anything to remove
     */
    Removed remove(NetworkCommands run, Path ip, IpFamily family, List<String> errors) {
        String flag = family.ipFlag();
        int rules = 0;
        // ip rule add does not refuse a duplicate on every kernel: delete until none is left.
        for (int i = 0; i < 16; i++) {
            NetworkCommands.Result deleted = run.run(List.of(ip.toString(), flag, "rule", "del", "priority",
                    String.valueOf(priority), "fwmark", markText(), "lookup", String.valueOf(table)));
            if (!deleted.ok()) {
                break;
            }
            rules++;
        }
        // Showing a table that does not exist fails: then there is nothing to flush.
        NetworkCommands.Result routes = run.run(List.of(ip.toString(), flag, "route", "show", "table", String.valueOf(table)));
        boolean hadRoutes = routes.ok() && !routes.out().isBlank();
        if (hadRoutes) {
            NetworkCommands.Result flushed = run.run(List.of(ip.toString(), flag, "route", "flush", "table", String.valueOf(table)));
            if (!flushed.ok()) {
                LOG.warn("could not empty routing table {} ({}): {}", table, family, flushed.failure());
                errors.add("could not empty routing table " + table + " (" + family + "): " + flushed.failure());
            }
        }
        return new Removed(rules, hadRoutes);
    }

    /** What {@link #remove} found: how many ip rules, and whether the table had routes. */
    record Removed(int rules, boolean routes) {
        boolean anything() {
            return rules > 0 || routes;
        }
    }

    private static List<String> prefixed(Path ip, List<String> args) {
        List<String> command = new ArrayList<>(args.size() + 1);
        command.add(ip.toString());
        command.addAll(args);
        return command;
    }
}

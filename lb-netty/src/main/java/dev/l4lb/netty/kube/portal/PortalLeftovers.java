package dev.l4lb.netty.kube.portal;

import java.util.ArrayList;
import java.util.List;

/**
 * {@code lb kube --cleanup}: removes every portal an earlier run left, REDIRECT and TPROXY alike,
 * the reply path and the rules refusing services without endpoints (only l4lb's own chains, their
 * jumps, and its ip rules and route tables), as kube-proxy's
 * {@code --cleanup} removes its rules before a node changes proxy.
 */
public final class PortalLeftovers {

    private PortalLeftovers() {
    }

    /** Removes what it can; returns what it could not look at or remove (empty: all clean). */
    public static List<String> remove() {
        NetworkCommands commands = NetworkCommands.system();
        List<String> problems = new ArrayList<>();
        for (String table : List.of(IptablesPortals.TABLE, TproxyPortals.TABLE, NoEndpointRules.TABLE)) {
            OwnedChains.Tools tools = OwnedChains.find(IpFamily.IPV4, table, commands);
            if (!tools.usable()) {
                problems.add("IPv4 " + table + ": " + tools.problem());
            }
        }
        if (commands.find("ip").isEmpty()) {
            problems.add(commands.notFound("ip"));
        }
        problems.addAll(IptablesPortals.removeLeftovers(commands));
        problems.addAll(TproxyPortals.removeLeftovers(commands));
        problems.addAll(ReplyPath.removeLeftovers(commands));
        problems.addAll(NoEndpointRules.removeLeftovers(commands));
        return problems;
    }
}

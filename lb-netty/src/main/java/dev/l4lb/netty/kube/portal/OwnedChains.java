package dev.l4lb.netty.kube.portal;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The chains l4lb owns in one table of one IP family: their whole content written in one
 * {@code iptables-restore --noflush} transaction, entered by one jump rule each from a built-in
 * chain, and removed without a trace. Nothing outside these chains and their jumps is touched.
 */
final class OwnedChains {
    private static final Logger LOG = LoggerFactory.getLogger(OwnedChains.class);
    /** Seconds to wait for the xtables lock that another iptables user may hold (legacy backend; nft ignores it). */
    private static final String LOCK_WAIT = "5";
    private static final Pattern ERROR_LINE = Pattern.compile("line:? (\\d+)");
    /** xt_comment keeps at most 255 bytes. */
    private static final int MAX_COMMENT = 255;

    private final IpFamily family;
    private final String table;
    private final List<Jump> jumps;
    private final Path iptables;
    private final Path restore;
    private final NetworkCommands commands;

    OwnedChains(IpFamily family, String table, List<Jump> jumps, Path iptables, Path restore, NetworkCommands commands) {
        this.family = family;
        this.table = table;
        this.jumps = List.copyOf(jumps);
        this.iptables = iptables;
        this.restore = restore;
        this.commands = commands;
    }

    /**
     * This family's tools for {@code table}, or why they cannot be used: missing, or not
     * permitted (not root, no CAP_NET_ADMIN), or the table does not exist in this kernel.
     */
    static Tools find(IpFamily family, String table, NetworkCommands commands) {
        Optional<Path> iptables = commands.find(family.iptables());
        Optional<Path> restore = commands.find(family.restore());
        if (iptables.isEmpty() || restore.isEmpty()) {
            String missing = iptables.isEmpty() ? family.iptables() : family.restore();
            return new Tools(null, null, commands.notFound(missing));
        }
        NetworkCommands.Result probe = commands.run(List.of(iptables.get().toString(), "-w", LOCK_WAIT, "-t", table, "-S"));
        if (!probe.ok()) {
            return new Tools(null, null, probe.failure());
        }
        return new Tools(iptables.get(), restore.get(), null);
    }

    /**
     * A family's iptables and iptables-restore, or why there are none.
     *
     * @param problem null when both are there and may change {@code table}
     */
    record Tools(Path iptables, Path restore, String problem) {
        boolean usable() {
            return problem == null;
        }
    }

    /**
     * A rule in a built-in chain that sends packets into one of ours.
     *
     * @param from    the built-in chain ({@code PREROUTING}, {@code OUTPUT})
     * @param chain   our chain
     * @param comment shown by iptables-save, so that a reader knows who put the rule there
     */
    record Jump(String from, String chain, String comment) {
        /** The rule's match and target, as {@code iptables -C} and the restore text take them. */
        List<String> spec() {
            return List.of("-m", "comment", "--comment", comment, "-j", chain);
        }

        /** Inserted first, so that no rule before it (a DNAT of another service proxy) takes the packet. */
        String insertLine() {
            return "-I " + from + " -m comment --comment " + quote(comment) + " -j " + chain;
        }
    }

    IpFamily family() {
        return family;
    }

    NetworkCommands commands() {
        return commands;
    }

    /**
     * The restore text that makes our chains hold exactly {@code rules} (lines such as
     * {@code -A CHAIN ...}): declaring a chain with {@code --noflush} creates it or empties it, so
     * one transaction replaces the old content whole; {@code missingJumps} are added in the same
     * transaction. Pure, so that tests can check it without root.
     */
    static String restoreText(String table, List<Jump> jumps, List<String> rules, Collection<Jump> missingJumps) {
        StringBuilder text = new StringBuilder(64 + rules.size() * 160);
        text.append('*').append(table).append('\n');
        for (Jump jump : jumps) {
            text.append(':').append(jump.chain()).append(" - [0:0]\n");
        }
        for (String rule : rules) {
            text.append(rule).append('\n');
        }
        for (Jump jump : missingJumps) {
            text.append(jump.insertLine()).append('\n');
        }
        return text.append("COMMIT\n").toString();
    }

    /** An iptables comment argument, quoted for iptables-restore, with what it cannot carry left out. */
    static String quote(String comment) {
        String clean = comment.replaceAll("[\"\\\\\\p{Cntrl}]", "");
        if (clean.length() > MAX_COMMENT) {
            clean = clean.substring(0, MAX_COMMENT);
        }
        return "\"" + clean + "\"";
    }

    /** How a removal at start names what it removed: what a run that did not close left. */
    static final String LEFT_BY_EARLIER_RUN = "left by an earlier run";

    /**
     * The chains of {@code table} in every family whose tools may change it: where cleaning up
     * what an earlier run left looks (a family without them can hold nothing of ours).
     */
    static List<OwnedChains> everyUsable(String table, List<Jump> jumps, NetworkCommands commands) {
        List<OwnedChains> usable = new ArrayList<>();
        for (IpFamily family : IpFamily.values()) {
            Tools tools = find(family, table, commands);
            if (tools.usable()) {
                usable.add(new OwnedChains(family, table, jumps, tools.iptables(), tools.restore(), commands));
            }
        }
        return usable;
    }

    /** The jumps of ours that are not in their built-in chain now, checked one by one with {@code iptables -C}. */
    List<Jump> missingJumps() {
        List<Jump> missing = new ArrayList<>();
        for (Jump jump : jumps) {
            List<String> check = new ArrayList<>(List.of(iptables.toString(), "-w", LOCK_WAIT, "-t", table, "-C", jump.from()));
            check.addAll(jump.spec());
            // Exit 1: no such rule; 2: our chain does not exist yet. Either way the restore adds it.
            if (!commands.run(check).ok()) {
                missing.add(jump);
            }
        }
        return missing;
    }

    /**
     * Makes our chains hold exactly {@code rules}, and the jumps into them exist once.
     *
     * @return empty when done, else iptables' own complaint (nothing changed then: the transaction
     *         is all or nothing)
     */
    Optional<String> write(List<String> rules) {
        String text = restoreText(table, jumps, rules, missingJumps());
        return runRestore(text);
    }

    /**
     * Removes every rule that jumps into one of our chains, whatever its comment (a crashed run,
     * or an older version, may have left it), then our chains themselves, in one transaction.
     *
     * @return what was removed, or the error
     */
    Removal removeAll() {
        NetworkCommands.Result listing = commands.run(List.of(iptables.toString(), "-w", LOCK_WAIT, "-t", table, "-S"));
        if (!listing.ok()) {
            return new Removal(0, 0, listing.failure());
        }
        List<String> deletes = new ArrayList<>();
        int chains = 0;
        for (String line : listing.out().split("\n")) {
            for (Jump jump : jumps) {
                if (line.equals("-N " + jump.chain())) {
                    chains++;
                } else if (isJumpInto(line, jump.chain())) {
                    deletes.add("-D " + line.substring(3));
                }
            }
        }
        if (chains == 0 && deletes.isEmpty()) {
            return new Removal(0, 0, null);
        }
        StringBuilder text = new StringBuilder();
        text.append('*').append(table).append('\n');
        for (Jump jump : jumps) {
            // Declaring creates a chain that was missing, so that the deletes below cannot fail on it.
            text.append(':').append(jump.chain()).append(" - [0:0]\n");
        }
        for (String delete : deletes) {
            text.append(delete).append('\n');
        }
        for (Jump jump : jumps) {
            text.append("-X ").append(jump.chain()).append('\n');
        }
        text.append("COMMIT\n");
        Optional<String> error = runRestore(text.toString());
        if (error.isPresent()) {
            return new Removal(0, 0, error.get());
        }
        return new Removal(deletes.size(), chains, null);
    }

    /** {@code -A PREROUTING ... -j CHAIN} in a chain that is not ours (those go with their chain). */
    private boolean isJumpInto(String line, String chain) {
        String[] words = line.split(" ", 3);
        if (words.length < 3 || !words[0].equals("-A") || jumps.stream().anyMatch(j -> j.chain().equals(words[1]))) {
            return false;
        }
        return line.endsWith(" -j " + chain) || line.endsWith(" -g " + chain);
    }

    /**
     * {@link #removeAll}, logged: what was removed, the chains named {@code what} ({@code portal},
     * {@code no-endpoint}), or why nothing could be.
     *
     * @param leftBy null at close; {@link #LEFT_BY_EARLIER_RUN} at start
     * @return why the chains could not be removed; empty when they are gone
     */
    Optional<String> removeAllLogged(String what, String leftBy) {
        Removal removal = removeAll();
        if (removal.error() != null) {
            LOG.warn("could not remove the {} {} chains: {}", family, what, removal.error());
            return Optional.of("could not remove the " + family + " " + what + " chains: " + removal.error());
        }
        if (removal.removedAnything()) {
            LOG.info("removed {} {} {} chain(s) and {} jump rule(s){}", removal.chains(), family, what, removal.jumps(),
                    leftBy == null ? "" : " " + leftBy);
        }
        return Optional.empty();
    }

    /**
     * What {@link #removeAll} did.
     *
     * @param error null when it succeeded
     */
    record Removal(int jumps, int chains, String error) {
        boolean removedAnything() {
            return jumps > 0 || chains > 0;
        }
    }

    private Optional<String> runRestore(String text) {
        NetworkCommands.Result result = commands.run(List.of(restore.toString(), "-w", LOCK_WAIT, "--noflush"), text);
        if (result.ok()) {
            return Optional.empty();
        }
        String failure = result.failure();
        // iptables-restore names the line it choked on; quote it, or the number means nothing in a log.
        Matcher line = ERROR_LINE.matcher(result.err());
        if (line.find()) {
            String[] lines = text.split("\n");
            int number = Integer.parseInt(line.group(1));
            // The nft backend checks some rules only at COMMIT and names that line: nothing to quote then.
            if (number >= 1 && number <= lines.length && !lines[number - 1].equals("COMMIT")) {
                failure += " [line " + number + ": " + lines[number - 1] + "]";
            }
        }
        return Optional.of(family + " " + table + ": " + failure);
    }
}

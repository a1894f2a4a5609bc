package dev.l4lb.netty.testing;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Assumptions;

/** The set-up commands of the root-only tests (ip, iptables): each runs to its end or fails the test. */
public final class HostCommands {
    private HostCommands() {
    }

    /** Runs {@code command} (its tool looked up as {@link #tool} does); fails with its output unless it exits 0 within 20 s. */
    public static void run(String... command) {
        output(command);
    }

    /** Like {@link #run}, and returns what the command wrote (stdout and stderr). */
    public static String output(String... command) {
        Ran ran = exec(20, resolved(command));
        if (ran.exit() != 0) {
            throw new AssertionError(String.join(" ", command) + " failed: " + ran.out());
        }
        return ran.out();
    }

    /** What {@code command} writes, whatever its exit code: for listings that fail when there is nothing to list. */
    public static String quietly(String... command) {
        Ran ran = exec(20, resolved(command));
        return ran.exit() == 0 ? ran.out() : "";
    }

    /**
     * How a command ended: its exit code (-1 when it was killed after its time) and what it wrote.
     */
    public record Ran(int exit, String out) {
    }

    /** Runs {@code command} as it is given (no tool look-up), for at most {@code seconds}; fails only when it cannot start. */
    public static Ran exec(int seconds, List<String> command) {
        try {
            Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
            byte[] out = p.getInputStream().readAllBytes();
            if (!p.waitFor(seconds, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                return new Ran(-1, new String(out, StandardCharsets.UTF_8));
            }
            return new Ran(p.exitValue(), new String(out, StandardCharsets.UTF_8));
        } catch (IOException | InterruptedException e) {
            throw new AssertionError(String.join(" ", command) + " could not run", e);
        }
    }

    private static List<String> resolved(String... command) {
        List<String> resolved = new ArrayList<>(List.of(command));
        resolved.set(0, tool(command[0]));
        return resolved;
    }

    /**
     * Skips the test unless it runs as root ({@code why} says what for) and every tool is
     * installed; where {@value PeerProcess#REQUIRE_PEERS}=1 (CI) a missing tool fails it instead.
     */
    public static void requireRootAnd(String why, String... tools) {
        Assumptions.assumeTrue(Privileges.isRoot(), "needs root: " + why);
        for (String tool : tools) {
            boolean there;
            try {
                there = PeerProcess.executable(tool) != null;
            } catch (org.opentest4j.TestAbortedException notFound) {
                there = false;
            }
            if (!there && "1".equals(System.getenv(PeerProcess.REQUIRE_PEERS))) {
                throw new AssertionError(tool + " is not installed, and " + PeerProcess.REQUIRE_PEERS + "=1 says it must be");
            }
            Assumptions.assumeTrue(there, tool + " is not installed");
        }
    }

    /** The tool's path (sbin need not be on this JVM's PATH); a path is taken as it is. */
    public static String tool(String name) {
        return name.startsWith("/") ? name : PeerProcess.executable(name).toString();
    }
}

package dev.l4lb.netty.testing;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

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
        List<String> resolved = new ArrayList<>(List.of(command));
        resolved.set(0, tool(command[0]));
        try {
            Process p = new ProcessBuilder(resolved).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(20, TimeUnit.SECONDS) || p.exitValue() != 0) {
                throw new AssertionError(String.join(" ", command) + " failed: " + out);
            }
            return out;
        } catch (IOException | InterruptedException e) {
            throw new AssertionError(String.join(" ", command) + " could not run", e);
        }
    }

    /** What {@code command} writes, whatever its exit code: for listings that fail when there is nothing to list. */
    public static String quietly(String... command) {
        List<String> resolved = new ArrayList<>(List.of(command));
        resolved.set(0, tool(command[0]));
        try {
            Process p = new ProcessBuilder(resolved).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            p.waitFor(20, TimeUnit.SECONDS);
            return p.exitValue() == 0 ? out : "";
        } catch (IOException | InterruptedException | IllegalThreadStateException e) {
            throw new AssertionError(String.join(" ", command) + " could not run", e);
        }
    }

    /** The tool's path (sbin need not be on this JVM's PATH); a path is taken as it is. */
    public static String tool(String name) {
        return name.startsWith("/") ? name : PeerProcess.executable(name).toString();
    }
}

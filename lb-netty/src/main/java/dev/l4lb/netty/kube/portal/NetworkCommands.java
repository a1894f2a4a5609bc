package dev.l4lb.netty.kube.portal;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * Runs the node's network tools (iptables, iptables-restore, ip) as child processes, each with a
 * deadline, and hands back their exit code and output; it never throws for a tool that fails.
 */
final class NetworkCommands {
    /** Debian keeps iptables and ip in sbin, which is not on an ordinary user's PATH. */
    private static final List<Path> SBIN = List.of(Path.of("/usr/local/sbin"), Path.of("/usr/sbin"), Path.of("/sbin"));
    /**
     * iptables-restore waits up to 5 s for the xtables lock ({@code -w 5}); a rule set of thousands
     * of services takes well under a second to load. Beyond this something is stuck.
     */
    static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(20);

    private final List<Path> searchPath;
    private final Duration timeout;

    NetworkCommands(List<Path> searchPath, Duration timeout) {
        this.searchPath = List.copyOf(searchPath);
        this.timeout = timeout;
    }

    /** The PATH of this process, then the sbin directories. */
    static NetworkCommands system() {
        Set<Path> dirs = new LinkedHashSet<>();
        String path = System.getenv("PATH");
        if (path != null) {
            for (String dir : path.split(File.pathSeparator)) {
                if (!dir.isEmpty()) {
                    dirs.add(Path.of(dir));
                }
            }
        }
        dirs.addAll(SBIN);
        return new NetworkCommands(new ArrayList<>(dirs), DEFAULT_TIMEOUT);
    }

    /** The executable named {@code name} in the search path; empty when there is none. */
    Optional<Path> find(String name) {
        for (Path dir : searchPath) {
            Path candidate = dir.resolve(name);
            if (Files.isRegularFile(candidate) && Files.isExecutable(candidate)) {
                return Optional.of(candidate);
            }
        }
        return Optional.empty();
    }

    /** The message when {@link #find} finds no {@code tool}: which one, and where it looked. */
    String notFound(String tool) {
        return tool + " not found (looked in " + searchPath.stream().map(Path::toString).reduce((a, b) -> a + ":" + b).orElse("") + ")";
    }

    /** Runs {@code command} with nothing on its standard input. */
    Result run(List<String> command) {
        return run(command, null);
    }

    /**
     * Runs {@code command} with {@code stdin} (null: none) and waits for it up to the timeout. The
     * input and both outputs go through files, so a large rule set neither blocks on a pipe nor
     * needs a reader thread.
     */
    Result run(List<String> command, String stdin) {
        Path in = null;
        Path out = null;
        Path err = null;
        try {
            out = Files.createTempFile("l4lb-net", ".out");
            err = Files.createTempFile("l4lb-net", ".err");
            ProcessBuilder builder = new ProcessBuilder(command)
                    .redirectOutput(out.toFile())
                    .redirectError(err.toFile());
            // The tools' messages end up in our logs and in error reports: keep them in one language.
            builder.environment().put("LC_ALL", "C");
            if (stdin != null) {
                in = Files.createTempFile("l4lb-net", ".in");
                Files.writeString(in, stdin, StandardCharsets.UTF_8);
                builder.redirectInput(in.toFile());
            }
            Process process = builder.start();
            if (stdin == null) {
                process.getOutputStream().close();
            }
            boolean done;
            try {
                done = process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                process.destroyForcibly();
                return Result.failed(command, "interrupted while waiting for " + command.get(0));
            }
            if (!done) {
                process.destroyForcibly();
                return Result.failed(command, command.get(0) + " did not finish within " + timeout.toSeconds() + " s");
            }
            return new Result(command, process.exitValue(), Files.readString(out, StandardCharsets.UTF_8),
                    Files.readString(err, StandardCharsets.UTF_8));
        } catch (IOException e) {
            return Result.failed(command, "cannot run " + command.get(0) + ": " + e.getMessage());
        } finally {
            deleteQuietly(in);
            deleteQuietly(out);
            deleteQuietly(err);
        }
    }

    private static void deleteQuietly(Path file) {
        if (file != null) {
            try {
                Files.deleteIfExists(file);
            } catch (IOException ignored) {
                // A temp file left behind is not worth failing a rule update for.
            }
        }
    }

    /**
     * What a command did.
     *
     * @param exit -1 when it could not be started or did not finish in time
     */
    record Result(List<String> command, int exit, String out, String err) {
        Result {
            command = List.copyOf(command);
        }

        static Result failed(List<String> command, String why) {
            return new Result(command, -1, "", why);
        }

        boolean ok() {
            return exit == 0;
        }

        /** The tool's own complaint on one line (its standard error, else its output), for logs. */
        String message() {
            String text = err.isBlank() ? out : err;
            return text.strip().replaceAll("\\s*\\R\\s*", "; ");
        }

        /** {@code iptables-restore failed (exit 2): <its message>}. */
        String failure() {
            String tool = Path.of(command.get(0)).getFileName().toString();
            return exit < 0 ? message() : tool + " failed (exit " + exit + "): " + message();
        }
    }
}

package dev.l4lb.netty.testing;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;


/**
 * A headless Chromium for tests of the stats page: loads a URL, lets the page's scripts run (their
 * fetches included) for a budget of virtual time, and hands back the DOM or a screenshot. Each
 * call is one fresh browser with its own profile and home in a temporary directory, deleted after.
 *
 * <p>Absent, it skips the test, or fails it under {@link PeerProcess#REQUIRE_PEERS}, like the other
 * peer programs; {@code .ci/run} installs Debian's {@code chromium}.
 */
public final class Chromium {
    private static final List<String> NAMES = List.of("chromium", "chromium-browser", "google-chrome");
    private static final Path DEBIAN = Path.of("/usr/bin/chromium");
    private static final List<String> FLAGS = List.of(
            // Since Chromium 132 the only headless mode; it runs the page's timers on virtual time.
            "--headless",
            // Tests run as root in containers, where Chromium's sandbox refuses to start.
            "--no-sandbox",
            "--disable-gpu",
            // Docker gives /dev/shm 64 MB, too little for a renderer. Debian's launcher means to add
            // this flag there, but its check breaks when findmnt prints /dev/shm twice.
            "--disable-dev-shm-usage",
            // Nothing to fetch from the internet (there is none in CI), no first-run pages.
            "--disable-background-networking",
            "--no-first-run",
            "--hide-scrollbars",
            // Puts the page's console messages (and uncaught errors) on stderr, for Page.console().
            "--enable-logging=stderr",
            "--log-level=0");
    // Virtual time stands still while a request is in flight, so a server that never answers holds
    // Chromium (and the page's own fetch timeout) for ever: the wall clock gets the budget plus this.
    private static final Duration WALL_MARGIN = Duration.ofSeconds(30);
    // "[pid:tid:time:INFO:CONSOLE:12] "message", source: url (12)"; older versions write CONSOLE(12).
    private static final Pattern CONSOLE = Pattern.compile(":CONSOLE[:(]\\d+\\)?] (.*)");
    private static final Pattern NET_ERROR = Pattern.compile("\"errorCode\":\"(\\w+)\"");
    private static final int STDERR_LINES_IN_FAILURES = 40;

    private final Path executable;

    private Chromium(Path executable) {
        this.executable = executable;
    }

    /** What Chromium made of a page: the DOM after the budget, and the page's console messages. */
    public record Page(String dom, List<String> console) {
    }

    /** The first of chromium, chromium-browser, google-chrome on PATH, else {@code /usr/bin/chromium}. */
    public static Optional<Chromium> find() {
        String path = System.getenv().getOrDefault("PATH", "");
        return Stream.concat(
                        NAMES.stream().flatMap(name -> Stream.of(path.split(File.pathSeparator))
                                .filter(dir -> !dir.isEmpty())
                                .map(dir -> Path.of(dir, name))),
                        Stream.of(DEBIAN))
                .filter(p -> Files.isRegularFile(p) && Files.isExecutable(p))
                .findFirst()
                .map(Chromium::new);
    }

    /** {@link #find()}, or skip the test (fail it under {@link PeerProcess#REQUIRE_PEERS}) when there is none. */
    public static Chromium require() {
        return find().orElseGet(() -> {
            String why = "Chromium is not installed (none of " + String.join(", ", NAMES) + " on PATH, no " + DEBIAN
                    + "; Debian package chromium)";
            PeerProcess.unavailable(why);
            return null; // not reached: unavailable always throws
        });
    }

    /** The program this runs. */
    public Path executable() {
        return executable;
    }

    /**
     * Loads {@code url} and runs it for {@code budget} of virtual time (timers fire as if that much
     * time had passed, in well under it), then returns its DOM and console. Fails when the page
     * could not be loaded at all (Chromium would return its own error page).
     */
    public Page load(URI url, Duration budget) {
        Run run = run(url, budget, List.of("--dump-dom"));
        if (run.stdout.isBlank()) {
            throw new AssertionError("Chromium printed no DOM for " + url + "\n" + run.stderrTail());
        }
        if (run.stdout.contains("<body class=\"neterror\"")) {
            Matcher code = NET_ERROR.matcher(run.stdout);
            throw new AssertionError("Chromium could not load " + url + ": "
                    + (code.find() ? code.group(1) : "network error page") + "\n" + run.stderrTail());
        }
        return new Page(run.stdout, run.console());
    }

    /** {@link #load}'s DOM: the document as serialized HTML after {@code budget} of virtual time. */
    public String dumpDom(URI url, Duration budget) {
        return load(url, budget).dom();
    }

    /**
     * A PNG of the {@code width} x {@code height} viewport after {@code budget} of virtual time.
     * Unlike {@link #load}, it cannot tell Chromium's own error page from the real one.
     */
    public void screenshot(URI url, Path png, int width, int height, Duration budget) {
        Path target = png.toAbsolutePath();
        try {
            Files.deleteIfExists(target);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        Run run = run(url, budget, List.of("--window-size=" + width + "," + height, "--screenshot=" + target));
        // Chromium exits 0 even when it could not write the file.
        if (!Files.isRegularFile(target) || target.toFile().length() == 0) {
            throw new AssertionError("Chromium wrote no screenshot to " + target + "\n" + run.stderrTail());
        }
    }

    @Override
    public String toString() {
        return executable.toString();
    }

    private Run run(URI url, Duration budget, List<String> action) {
        Path dir;
        try {
            dir = Files.createTempDirectory("l4lb-chromium-");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        try {
            List<String> command = new ArrayList<>();
            command.add(executable.toString());
            command.addAll(FLAGS);
            command.add("--user-data-dir=" + dir.resolve("profile"));
            command.add("--virtual-time-budget=" + budget.toMillis());
            command.addAll(action);
            command.add(url.toString());
            ProcessBuilder builder = new ProcessBuilder(command)
                    .directory(dir.toFile())
                    // Files, not pipes: nothing to drain while waiting, and no deadlock on a large DOM.
                    .redirectOutput(dir.resolve("stdout").toFile())
                    .redirectError(dir.resolve("stderr").toFile());
            // Chromium and Debian's launcher write crash-report and dconf directories under HOME
            // whatever the profile directory is; keep them in the temporary directory.
            builder.environment().put("HOME", dir.toString());
            builder.environment().put("XDG_CONFIG_HOME", dir.resolve("config").toString());
            builder.environment().put("XDG_CACHE_HOME", dir.resolve("cache").toString());
            Process process = builder.start();
            Duration wall = budget.plus(WALL_MARGIN);
            boolean exited;
            try {
                exited = process.waitFor(wall.toMillis(), TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                kill(process);
                Thread.currentThread().interrupt();
                throw new AssertionError("interrupted while Chromium loaded " + url, e);
            }
            if (!exited) {
                kill(process);
            }
            Run run = new Run(read(dir.resolve("stdout")), read(dir.resolve("stderr")));
            if (!exited) {
                throw new AssertionError("Chromium did not finish " + url + " within " + wall.toSeconds()
                        + " s (a request that never got an answer stops virtual time)\ncommand: " + command
                        + "\n" + run.stderrTail());
            }
            if (process.exitValue() != 0) {
                throw new AssertionError("Chromium exited with status " + process.exitValue() + " on " + url
                        + "\ncommand: " + command + "\n" + run.stderrTail());
            }
            return run;
        } catch (IOException e) {
            throw new UncheckedIOException("could not run " + executable, e);
        } finally {
            deleteQuietly(dir);
        }
    }

    /** The browser and the processes it started (zygote, renderer, GPU), each by its pid. */
    private static void kill(Process process) {
        // Taken before the browser dies: its orphans would no longer be its descendants.
        List<ProcessHandle> children = process.descendants().toList();
        children.forEach(ProcessHandle::destroyForcibly);
        process.destroyForcibly();
        try {
            process.waitFor(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static String read(Path file) throws IOException {
        return Files.exists(file) ? Files.readString(file, StandardCharsets.UTF_8) : "";
    }

    private static void deleteQuietly(Path dir) {
        try (Stream<Path> files = Files.walk(dir)) {
            files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException | UncheckedIOException e) {
            // A leftover temporary directory is not the test's failure.
        }
    }

    private record Run(String stdout, String stderr) {
        List<String> console() {
            List<String> messages = new ArrayList<>();
            for (String line : stderr.split("\n")) {
                Matcher m = CONSOLE.matcher(line);
                if (m.find()) {
                    messages.add(m.group(1));
                }
            }
            return List.copyOf(messages);
        }

        String stderrTail() {
            List<String> lines = List.of(stderr.split("\n"));
            int from = Math.max(0, lines.size() - STDERR_LINES_IN_FAILURES);
            return "Chromium's stderr" + (from > 0 ? " (last " + STDERR_LINES_IN_FAILURES + " lines)" : "") + ":\n"
                    + String.join("\n", lines.subList(from, lines.size()));
        }
    }
}

package dev.l4lb.netty.testing;

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import org.junit.jupiter.api.Assumptions;

/**
 * A real peer program (nginx, HAProxy) run in the foreground for an interop test with the config
 * the test wrote: started, waited for until it listens, its output kept for assertions and
 * failure messages, and stopped on close. Readiness is a connection opened and closed at once,
 * which the peer may log or pass on (HAProxy in tcp mode connects its server for it), so a test
 * should pick out its own connection rather than count them.
 */
public final class PeerProcess implements AutoCloseable {
    /** Set to {@code 1} where the peers must be installed (CI), so their tests fail instead of skipping. */
    public static final String REQUIRE_PEERS = "L4LB_REQUIRE_PEERS";
    /** Where Debian's libnginx-mod-stream puts the module; nginx-light does not build it in. */
    public static final Path NGINX_STREAM_MODULE = Path.of("/usr/lib/nginx/modules/ngx_stream_module.so");

    private static final Duration STARTUP = Duration.ofSeconds(10);
    private static final Duration STOP_GRACE = Duration.ofSeconds(5);
    // Debian installs nginx and haproxy in sbin, which is not on an ordinary user's PATH.
    private static final List<String> SBIN = List.of("/usr/local/sbin", "/usr/sbin", "/sbin");

    private final String name;
    private final Process process;
    private final List<String> lines = new CopyOnWriteArrayList<>();
    private final Thread reader;

    private PeerProcess(String name, Process process) {
        this.name = name;
        this.process = process;
        this.reader = new Thread(this::readOutput, name + "-output");
        reader.setDaemon(true);
        reader.start();
    }

    /**
     * nginx with {@code config} written to {@code dir/nginx.conf}, in one foreground process. The
     * config needs no {@code pid}, {@code daemon} or {@code error_log}: the command line puts the
     * pid file in {@code dir} and the log on stderr, which is captured.
     */
    public static PeerProcess nginx(Path dir, String config, InetSocketAddress listen) {
        Path nginx = executable("nginx");
        Path conf = write(dir, "nginx.conf", config);
        return start("nginx", List.of(nginx.toString(), "-p", dir.toString(), "-c", conf.toString(),
                // -e: the log before the config is read goes to stderr too, not to /var/log/nginx.
                "-e", "stderr",
                "-g", "daemon off; master_process off; pid " + dir.resolve("nginx.pid") + ";"), dir, listen);
    }

    /**
     * HAProxy with {@code config} written to {@code dir/haproxy.cfg}, in the foreground ({@code -db}).
     * {@code log stdout format raw local0} in its {@code global} section puts its log in {@link #lines()}.
     */
    public static PeerProcess haproxy(Path dir, String config, InetSocketAddress listen) {
        Path haproxy = executable("haproxy");
        Path cfg = write(dir, "haproxy.cfg", config);
        return start("haproxy", List.of(haproxy.toString(), "-db", "-f", cfg.toString()), dir, listen);
    }

    /**
     * dnsmasq serving {@code records} (each {@code name,address}, as its {@code --host-record})
     * on {@code listen}, UDP and TCP, in the foreground with its query log captured; no upstream
     * servers, no /etc/hosts, no config file.
     */
    public static PeerProcess dnsmasq(Path dir, InetSocketAddress listen, String... records) {
        Path dnsmasq = executable("dnsmasq");
        List<String> command = new ArrayList<>(List.of(dnsmasq.toString(), "--keep-in-foreground", "--conf-file=/dev/null",
                "--no-resolv", "--no-hosts", "--bind-interfaces", "--listen-address=" + listen.getAddress().getHostAddress(),
                "--port=" + listen.getPort(), "--log-queries", "--log-facility=-", "--user=" + System.getProperty("user.name"),
                "--pid-file"));
        for (String record : records) {
            command.add("--host-record=" + record);
        }
        return start("dnsmasq", command, dir, listen);
    }

    /** The path of nginx's stream module, for {@code load_module}; skips (or fails, see {@link #REQUIRE_PEERS}) without it. */
    public static String nginxStreamModule() {
        if (!Files.isRegularFile(NGINX_STREAM_MODULE)) {
            unavailable("nginx's stream module is not installed (no " + NGINX_STREAM_MODULE
                    + "; Debian package libnginx-mod-stream)");
        }
        return NGINX_STREAM_MODULE.toString();
    }

    /** {@code name} on PATH (or in an sbin directory); skips the test, or fails it under {@link #REQUIRE_PEERS}, when absent. */
    public static Path executable(String name) {
        String path = System.getenv().getOrDefault("PATH", "");
        return Stream.concat(Stream.of(path.split(File.pathSeparator)), SBIN.stream())
                .filter(d -> !d.isEmpty())
                .map(d -> Path.of(d, name))
                .filter(Files::isExecutable)
                .findFirst()
                .orElseGet(() -> {
                    unavailable(name + " is not installed (not on PATH nor in " + String.join(", ", SBIN) + ")");
                    return null; // not reached: unavailable always throws
                });
    }

    /** The program's stdout and stderr so far, one entry a line. */
    public List<String> lines() {
        return List.copyOf(lines);
    }

    /** {@link #lines()} as one text, for failure messages. */
    public String output() {
        return String.join("\n", lines);
    }

    /** Stops it (SIGTERM, then SIGKILL after a grace period) and waits until it has exited. */
    @Override
    public void close() throws InterruptedException {
        try {
            if (process.isAlive()) {
                process.destroy();
                if (!process.waitFor(STOP_GRACE.toMillis(), TimeUnit.MILLISECONDS)) {
                    process.destroyForcibly().waitFor(STOP_GRACE.toMillis(), TimeUnit.MILLISECONDS);
                }
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            throw e;
        }
        // The reader ends at EOF, which comes once the process (and anything it forked) is gone.
        reader.join(1000);
    }

    @Override
    public String toString() {
        return name + " (pid " + process.pid() + ")";
    }

    private static PeerProcess start(String name, List<String> command, Path dir, InetSocketAddress listen) {
        Process process;
        try {
            process = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true).start();
        } catch (IOException e) {
            throw new UncheckedIOException("could not run " + command, e);
        }
        PeerProcess peer = new PeerProcess(name, process);
        try {
            peer.awaitListening(listen, command);
            return peer;
        } catch (Throwable failure) {
            // Nobody holds it yet to close it later.
            try {
                peer.close();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            throw failure;
        }
    }

    private void awaitListening(InetSocketAddress listen, List<String> command) {
        long deadline = System.nanoTime() + STARTUP.toNanos();
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                joinReader();
                throw new AssertionError(name + " exited with status " + process.exitValue() + " before listening on "
                        + listen + "\ncommand: " + command + "\noutput:\n" + output());
            }
            try (Socket probe = new Socket()) {
                probe.connect(listen, 200);
                return;
            } catch (IOException notYet) {
                sleep(50);
            }
        }
        throw new AssertionError(name + " did not listen on " + listen + " within " + STARTUP.toSeconds() + " s"
                + "\ncommand: " + command + "\noutput:\n" + output());
    }

    private void readOutput() {
        try (BufferedReader in = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
            for (String line; (line = in.readLine()) != null; ) {
                lines.add(line);
            }
        } catch (IOException e) {
            lines.add("[reading " + name + "'s output failed: " + e + "]");
        }
    }

    /** After an exit, so a failure message has the last words. */
    private void joinReader() {
        try {
            reader.join(1000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static Path write(Path dir, String file, String text) {
        try {
            return Files.writeString(dir.resolve(file), text, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted while waiting for a peer to start", e);
        }
    }

    /** Skips the test for want of {@code why}; fails it instead under {@link #REQUIRE_PEERS}. */
    public static void unavailable(String why) {
        if ("1".equals(System.getenv(REQUIRE_PEERS))) {
            throw new AssertionError(why + ", and " + REQUIRE_PEERS + "=1 requires it: install it (see .ci/run)");
        }
        Assumptions.abort(why + " (set " + REQUIRE_PEERS + "=1 to fail instead of skipping)");
    }
}

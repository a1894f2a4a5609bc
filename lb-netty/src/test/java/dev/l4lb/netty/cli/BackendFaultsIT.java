package dev.l4lb.netty.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static dev.l4lb.netty.testing.HostCommands.run;
import static dev.l4lb.netty.testing.HostCommands.tool;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.l4lb.netty.testing.PeerProcess;
import dev.l4lb.netty.testing.Privileges;

/**
 * Issue 15's backend faults under load, on the jar as users run it, in a network namespace of the
 * test's own (so that a black hole can be made with iptables without touching the host): wrk
 * drives requests through l4lb while one backend is killed with SIGKILL and started again, and
 * while another endpoint drops every SYN. What must hold: the only requests that fail are the
 * ones in flight on the killed backend (at most one per wrk connection); every other one is
 * served, new connections failing over to the next endpoint, after a refused connect at once and
 * after a black-holed one within connectTimeout. (A backend that accepts and never answers is
 * {@code PortPolicyTest.anIdleConnectionIsClosedAfterIdleTimeout}.) Root only.
 */
class BackendFaultsIT {
    private static final Path JAR = Path.of(System.getProperty("l4lb.jar", "target/l4lb.jar"));
    private static final String NS = "l4lb-f-" + ProcessHandle.current().pid();
    private static final int CONNECTIONS = 16;
    private static final Pattern REQUESTS = Pattern.compile("(\\d+) requests in");
    private static final Pattern SOCKET_ERRORS = Pattern.compile(
            "Socket errors: connect (\\d+), read (\\d+), write (\\d+), timeout (\\d+)");
    private static final Pattern MAX_LATENCY = Pattern.compile("Latency\\s+\\S+\\s+\\S+\\s+(\\S+)");

    private final List<Process> processes = new ArrayList<>();

    @TempDir
    Path dir;

    @BeforeEach
    void makeTheNamespace() {
        Assumptions.assumeTrue(Privileges.isRoot(), "needs root: it creates a network namespace and iptables rules in it");
        for (String tool : List.of("ip", "iptables", "wrk")) {
            PeerProcess.executable(tool); // skips, or fails under L4LB_REQUIRE_PEERS, when missing
        }
        run("ip", "netns", "add", NS);
        run("ip", "-n", NS, "link", "set", "lo", "up");
    }

    @AfterEach
    void removeIt() throws Exception {
        for (Process p : processes) {
            p.destroyForcibly();
            p.waitFor(10, TimeUnit.SECONDS);
        }
        new ProcessBuilder(tool("ip"), "netns", "del", NS).inheritIO().start().waitFor(10, TimeUnit.SECONDS); // its rules go with it
    }

    @Test
    void aKilledBackendCostsOnlyItsOwnRequestsAndABlackHoleIsPassedOver() throws Exception {
        assertThat(JAR).as("the shaded jar built by package").exists();
        // 127.0.0.4 drops every SYN to its port: a connect there can only time out.
        run("ip", "netns", "exec", NS, tool("iptables"), "-A", "INPUT", "-p", "tcp", "-d", "127.0.0.4", "--dport", "9004",
                "--syn", "-j", "DROP");
        Process killed = backend("127.0.0.1:9001");
        backend("127.0.0.2:9002");
        Path config = dir.resolve("l4lb.yaml");
        Files.writeString(config, """
                admin: {metrics: "127.0.0.1:10249", healthz: "127.0.0.1:10256"}
                services:
                  - name: torture/killed
                    ports:
                      - listen: ["127.0.0.1:8081"]
                        endpoints: ["127.0.0.1:9001", "127.0.0.2:9002"]
                  - name: torture/blackhole
                    ports:
                      - listen: ["127.0.0.1:8082"]
                        connectTimeout: 300ms
                        endpoints: ["127.0.0.4:9004", "127.0.0.2:9002"]
                """);
        Path log = dir.resolve("lb.log");
        processes.add(inNamespace(log, "java", "-jar", JAR.toString(), "run", "--config", config.toString(),
                "--shutdown-grace", "0s"));
        await().atMost(Duration.ofSeconds(60)).until(() -> Files.readString(log).contains("admin: metrics"));
        for (String backend : List.of("127.0.0.1:9001", "127.0.0.2:9002")) {
            Path backendLog = dir.resolve("backend-" + backend + ".log");
            await().atMost(Duration.ofSeconds(30)).until(() -> Files.readString(backendLog).contains("echo server listening"));
        }

        // 1. SIGKILL one of two backends 3 s into a 10 s run, start it again at 6 s.
        CompletableFuture<String> run = wrk("http://127.0.0.1:8081/", 10);
        Thread.sleep(3000);
        killed.destroyForcibly(); // SIGKILL: its connections are reset, its port refuses
        killed.waitFor(10, TimeUnit.SECONDS);
        Thread.sleep(3000);
        backend("127.0.0.1:9001"); // its log is written anew
        String killedRun = run.get(60, TimeUnit.SECONDS);
        long[] errors = socketErrors(killedRun);
        long failed = errors[0] + errors[1] + errors[2] + errors[3];
        assertThat(requests(killedRun)).as(killedRun).isGreaterThan(1000);
        assertThat(killedRun).as("every answer a 200").doesNotContain("Non-2xx");
        assertThat(failed).as("failed requests: at most the ones in flight on the killed backend\n" + killedRun)
                .isLessThanOrEqualTo(CONNECTIONS);

        // 2. One of two endpoints black-holed: each connection sent there waits connectTimeout, then is served.
        String blackholeRun = wrk("http://127.0.0.1:8082/", 5).get(60, TimeUnit.SECONDS);
        assertThat(requests(blackholeRun)).as(blackholeRun).isGreaterThan(100);
        assertThat(blackholeRun).as("every answer a 200").doesNotContain("Non-2xx", "Socket errors");
        assertThat(maxLatencyMillis(blackholeRun)).as("the wait for the black hole, then the next endpoint")
                .isGreaterThanOrEqualTo(300);
        System.out.printf("backend faults: SIGKILL under load: %d requests, %d failed (connect %d, read %d, write %d,"
                        + " timeout %d) of %d connections; black hole: %d requests, none failed, max latency %.0f ms%n",
                requests(killedRun), failed, errors[0], errors[1], errors[2], errors[3], CONNECTIONS,
                requests(blackholeRun), maxLatencyMillis(blackholeRun));
        assertThat(Files.readAllLines(log)).as("lb's log").noneMatch(l -> l.contains("Exception") || l.startsWith("\tat "));
    }

    private Process backend(String listen) throws IOException {
        Process p = inNamespace(dir.resolve("backend-" + listen + ".log"), "java", "-Xmx64m", "-jar", JAR.toString(),
                "echo-server", "--threads", "1", "--listen", listen);
        processes.add(p);
        return p;
    }

    /** wrk with keep-alive connections for {@code seconds}, in the namespace; its report. */
    private CompletableFuture<String> wrk(String url, int seconds) throws IOException {
        Process p = new ProcessBuilder(tool("ip"), "netns", "exec", NS, PeerProcess.executable("wrk").toString(), "-t1",
                "-c" + CONNECTIONS, "-d" + seconds + "s", "--timeout", "5s", "--latency", url)
                .redirectErrorStream(true).start();
        processes.add(p);
        return CompletableFuture.supplyAsync(() -> {
            try {
                return new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
    }

    private Process inNamespace(Path log, String... command) throws IOException {
        List<String> full = new ArrayList<>(List.of(tool("ip"), "netns", "exec", NS));
        full.add(command[0].equals("java") ? Path.of(System.getProperty("java.home"), "bin", "java").toString() : command[0]);
        full.addAll(List.of(command).subList(1, command.length));
        return new ProcessBuilder(full).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    }

    private static long requests(String wrk) {
        Matcher m = REQUESTS.matcher(wrk);
        assertThat(m.find()).as(wrk).isTrue();
        return Long.parseLong(m.group(1));
    }

    /** connect, read, write and timeout errors; zeros when wrk printed none. */
    private static long[] socketErrors(String wrk) {
        Matcher m = SOCKET_ERRORS.matcher(wrk);
        if (!m.find()) {
            return new long[4];
        }
        return new long[] {Long.parseLong(m.group(1)), Long.parseLong(m.group(2)), Long.parseLong(m.group(3)),
                Long.parseLong(m.group(4))};
    }

    private static double maxLatencyMillis(String wrk) {
        Matcher m = MAX_LATENCY.matcher(wrk);
        assertThat(m.find()).as(wrk).isTrue();
        String max = m.group(1);
        double value = Double.parseDouble(max.replaceAll("[a-z]+$", ""));
        if (max.endsWith("us")) {
            return value / 1000;
        }
        if (max.endsWith("ms")) {
            return value;
        }
        if (max.endsWith("m")) {
            return value * 60_000;
        }
        return value * 1000; // "s"
    }
}

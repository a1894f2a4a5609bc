package dev.l4lb.netty.health;

import static org.assertj.core.api.Assertions.assertThat;
import static dev.l4lb.netty.testing.HostCommands.run;
import static dev.l4lb.netty.testing.HostCommands.tool;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.l4lb.netty.testing.AdminHttp;
import dev.l4lb.netty.testing.LbJar;
import dev.l4lb.netty.testing.PeerProcess;
import dev.l4lb.netty.testing.Ports;
import dev.l4lb.netty.testing.Privileges;
import dev.l4lb.netty.testing.RawHttp;

/**
 * Issue 17's black hole, on the jar as users run it: one of three endpoints lives in a network
 * namespace of the test's own, reached over a veth pair, where an iptables rule drops every SYN
 * to it. Without checks a third of new connections would wait the whole connect timeout (1 s)
 * before their retry; with a tcp check the endpoint goes down after fall x interval, after which
 * no connection waits, {@code lb list} says it is down, and once the rule goes it is picked
 * again. Root only; the namespace, its veth pair and its rule go with the namespace.
 */
class BlackHoleCheckIT {
    private static final String NS = "l4lb-hc-" + ProcessHandle.current().pid();
    /** The veth pair's root end; its peer is moved into the namespace. */
    private static final String VETH = "l4hc" + ProcessHandle.current().pid() % 100_000;
    private static final String HOST_SIDE = "10.213.217.1";
    private static final String HOLE = "10.213.217.2";

    private final List<Process> processes = new ArrayList<>();

    @TempDir
    Path dir;

    @BeforeEach
    void makeTheNamespace() {
        Assumptions.assumeTrue(Privileges.isRoot(), "needs root: it creates a network namespace, a veth pair and an iptables rule");
        for (String tool : List.of("ip", "iptables")) {
            PeerProcess.executable(tool);
        }
        run("ip", "netns", "add", NS);
        run("ip", "link", "add", VETH, "type", "veth", "peer", "name", VETH + "b", "netns", NS);
        run("ip", "addr", "add", HOST_SIDE + "/30", "dev", VETH);
        run("ip", "link", "set", VETH, "up");
        run("ip", "-n", NS, "addr", "add", HOLE + "/30", "dev", VETH + "b");
        run("ip", "-n", NS, "link", "set", VETH + "b", "up");
        run("ip", "-n", NS, "link", "set", "lo", "up");
    }

    @AfterEach
    void removeIt() throws Exception {
        for (Process p : processes) {
            p.destroyForcibly();
            p.waitFor(10, TimeUnit.SECONDS);
        }
        // The namespace takes its end of the pair, its rule and (with the peer gone) the root end too.
        new ProcessBuilder(tool("ip"), "netns", "del", NS).inheritIO().start().waitFor(10, TimeUnit.SECONDS);
        new ProcessBuilder(tool("ip"), "link", "del", VETH).redirectErrorStream(true).start().waitFor(10, TimeUnit.SECONDS);
    }

    @Test
    void aBlackHoledEndpointIsCheckedDownAndNoConnectionWaitsForIt() throws Exception {
        String ok1 = "127.0.0.1:" + Ports.free();
        String ok2 = "127.0.0.2:" + Ports.free();
        String hole = HOLE + ":9003";
        processes.add(echo(dir.resolve("backends.log"), List.of(), ok1, ok2));
        processes.add(echo(dir.resolve("hole.log"), List.of(tool("ip"), "netns", "exec", NS), hole));
        InetSocketAddress listen = Ports.loopback(Ports.free());
        InetSocketAddress metrics = Ports.loopback(Ports.free());
        Path config = dir.resolve("l4lb.yaml");
        Files.writeString(config, """
                admin: {metrics: "%s", healthz: "127.0.0.1:%d"}
                services:
                  - name: test/blackhole
                    ports:
                      - listen: ["127.0.0.1:%d"]
                        connectTimeout: 1s
                        healthCheck: {type: tcp, interval: 300ms, timeout: 300ms, fall: 2, rise: 2}
                        endpoints: ["%s", "%s", "%s"]
                """.formatted("127.0.0.1:" + metrics.getPort(), Ports.free(), listen.getPort(), ok1, ok2, hole));
        Path log = dir.resolve("lb.log");
        processes.add(LbJar.run(config, log));
        await().atMost(Duration.ofSeconds(30)).until(() -> healthy(metrics, hole) == 1 && served(listen).contains(hole));

        run("ip", "netns", "exec", NS, tool("iptables"), "-A", "INPUT", "-p", "tcp", "-d", HOLE, "--dport", "9003",
                "--syn", "-j", "DROP");
        long dropped = System.nanoTime();
        await().atMost(Duration.ofSeconds(10)).until(() -> healthy(metrics, hole) == 0);
        long downAfterMillis = (System.nanoTime() - dropped) / 1_000_000;

        long slowestNanos = 0;
        Set<String> answered = new HashSet<>();
        for (int i = 0; i < 100; i++) {
            long started = System.nanoTime();
            answered.add(RawHttp.backendOf(RawHttp.get(listen, "/")));
            slowestNanos = Math.max(slowestNanos, System.nanoTime() - started);
        }
        assertThat(answered).containsExactlyInAnyOrder(ok1, ok2);
        assertThat(slowestNanos / 1_000_000).as("the slowest of 100 connections, in ms: no connect timeout in it")
                .isLessThan(500);
        String list = lbList(metrics);
        assertThat(list.lines().filter(l -> l.contains(hole))).singleElement().asString().contains("down");

        run("ip", "netns", "exec", NS, tool("iptables"), "-D", "INPUT", "-p", "tcp", "-d", HOLE, "--dport", "9003",
                "--syn", "-j", "DROP");
        await().atMost(Duration.ofSeconds(10)).until(() -> healthy(metrics, hole) == 1);
        assertThat(served(listen)).contains(hole);
        System.out.printf("black hole: down %d ms after the DROP (fall 2 x interval 300 ms); slowest of 100 connections"
                + " then %.1f ms; back in service after the rule went%n", downAfterMillis, slowestNanos / 1e6);
        assertThat(Files.readString(log)).contains("endpoint " + hole + " of test/blackhole is down (was up)")
                .contains("endpoint " + hole + " of test/blackhole is up (was down)");
    }

    /** The endpoint's l4lb_endpoint_healthy value, -1 while it is not in the scrape. */
    private static int healthy(InetSocketAddress metrics, String endpoint) {
        Matcher m = Pattern.compile("^l4lb_endpoint_healthy\\{[^}]*endpoint=\"" + Pattern.quote(endpoint) + "\"[^}]*} (\\S+)$",
                Pattern.MULTILINE).matcher(AdminHttp.get(metrics, "/metrics").body());
        return m.find() ? (int) Double.parseDouble(m.group(1)) : -1;
    }

    /** The backends that answer 30 new connections. */
    private static Set<String> served(InetSocketAddress listen) throws IOException {
        Set<String> answered = new HashSet<>();
        for (int i = 0; i < 30; i++) {
            answered.add(RawHttp.backendOf(RawHttp.get(listen, "/")));
        }
        return answered;
    }

    private String lbList(InetSocketAddress admin) throws Exception {
        Process p = new ProcessBuilder(java(), "-jar", LbJar.JAR.toString(), "list", "--admin",
                "127.0.0.1:" + admin.getPort()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as(out).isZero();
        return out;
    }

    private Process echo(Path log, List<String> prefix, String... listen) throws IOException {
        List<String> command = new ArrayList<>(prefix);
        command.addAll(List.of(java(), "-Xmx64m", "-jar", LbJar.JAR.toString(), "echo-server", "--threads", "1"));
        for (String address : listen) {
            command.addAll(List.of("--listen", address));
        }
        Process p = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        await().atMost(Duration.ofSeconds(30)).until(() -> Files.readString(log).contains("echo server listening"));
        return p;
    }

    private static String java() {
        return Path.of(System.getProperty("java.home"), "bin", "java").toString();
    }
}

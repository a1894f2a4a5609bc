package dev.l4lb.netty.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import picocli.CommandLine;

import dev.l4lb.core.model.Addresses;
import dev.l4lb.netty.transport.Transport;
import dev.l4lb.netty.echo.EchoServer;
import dev.l4lb.netty.testing.AdminHttp;
import dev.l4lb.netty.testing.Configs;
import dev.l4lb.netty.testing.LbJar;
import dev.l4lb.netty.testing.Ports;
import dev.l4lb.netty.testing.RawHttp;

/**
 * The executable jar as a user runs it ({@code java -jar l4lb.jar demo}, what {@code ./lb demo}
 * execs): it serves, and SIGTERM stops it with everything closed. Run by failsafe after the jar
 * is built, on this JDK and on a Temurin 25 JDK when the machine has one.
 */
class LbProcessIT {

    static Stream<Path> javaHomes() {
        List<Path> homes = new ArrayList<>();
        homes.add(Path.of(System.getProperty("java.home")));
        Path temurin25 = Path.of("/usr/lib/jvm/temurin-25-jdk-amd64");
        if (Files.isExecutable(temurin25.resolve("bin/java"))) {
            homes.add(temurin25);
        }
        return homes.stream();
    }

    @ParameterizedTest
    @MethodSource("javaHomes")
    void demoServesAndStopsOnSigterm(Path javaHome) throws Exception {
        assertThat(LbJar.JAR).as("the shaded jar built by package").exists();
        Process lb = new ProcessBuilder(javaHome.resolve("bin/java").toString(), "-jar", LbJar.JAR.toString(), "demo")
                .redirectErrorStream(true)
                .start();
        List<String> output = new ArrayList<>();
        CompletableFuture<Void> ready = new CompletableFuture<>();
        Thread reader = new Thread(() -> {
            try (BufferedReader in = new BufferedReader(new InputStreamReader(lb.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line; (line = in.readLine()) != null; ) {
                    synchronized (output) {
                        output.add(line);
                    }
                    if (line.contains("Ctrl-C stops it.")) {
                        ready.complete(null);
                    }
                }
            } catch (IOException e) {
                ready.completeExceptionally(e);
            }
            ready.completeExceptionally(new AssertionError("lb exited before it was ready"));
        });
        reader.start();
        try {
            ready.get(60, TimeUnit.SECONDS);
            InetSocketAddress front = new InetSocketAddress(InetAddress.getByName("127.0.0.1"), 8080);
            Set<String> backends = new HashSet<>();
            for (int i = 0; i < 3; i++) {
                backends.add(RawHttp.backendOf(RawHttp.get(front, "/")));
            }
            assertThat(backends).containsExactlyInAnyOrder("127.0.0.1:9001", "127.0.0.1:9002", "127.0.0.1:9003");
        } finally {
            lb.destroy(); // SIGTERM
            assertThat(lb.waitFor(30, TimeUnit.SECONDS)).as("lb exits after SIGTERM").isTrue();
            reader.join(5000);
        }
        synchronized (output) {
            assertThat(output).as("what lb printed").anyMatch(l -> l.contains("serving 1 service(s), 1 port(s) on transport"));
            assertThat(output).noneMatch(l -> l.contains("WARNING") || l.contains("Exception"));
        }
        assertThat(lb.exitValue()).isEqualTo(143); // 128 + SIGTERM, after the shutdown hook ran
        assertThatThrownBy(() -> new Socket(InetAddress.getByName("127.0.0.1"), 8080).close())
                .isInstanceOf(ConnectException.class);
    }

    /**
     * {@code lb run} as an operator runs it: SIGHUP reloads the file (a new service starts
     * answering), a bad file on SIGHUP is rejected and counted while the old config serves, and
     * {@code lb list} reads the running process.
     */
    @Test
    void runReloadsItsFileOnSighup(@TempDir Path dir) throws Exception {
        try (EchoServer backends = EchoServer.start(List.of(Ports.loopback(0)), Transport.NIO, 1)) {
            String endpoint = Addresses.format(backends.addresses().get(0));
            InetSocketAddress first = Ports.loopback(Ports.free());
            InetSocketAddress second = Ports.loopback(Ports.free());
            InetSocketAddress metrics = Ports.loopback(Ports.free());
            String admin = "admin: {metrics: \"%s\", healthz: \"%s\"}\n".formatted(Addresses.format(metrics),
                    Addresses.format(Ports.loopback(Ports.free())));
            String one = admin + service("a", first, endpoint);
            Path config = dir.resolve("l4lb.yaml");
            Files.writeString(config, one);
            Process lb = LbJar.run(config, dir.resolve("lb.log"));
            try {
                assertThat(RawHttp.backendOf(RawHttp.get(first, "/"))).isEqualTo(endpoint);

                Files.writeString(config, one + service("b", second, endpoint).replace("services:\n", ""));
                signal(lb, "HUP");
                await().atMost(Duration.ofSeconds(20)).ignoreExceptions().untilAsserted(() -> // refused until the reload binds it
                        assertThat(RawHttp.backendOf(RawHttp.get(second, "/"))).isEqualTo(endpoint));

                Files.writeString(config, "services: [oops\n");
                signal(lb, "HUP");
                await().atMost(Duration.ofSeconds(20)).until(() -> Files.readString(dir.resolve("lb.log")).contains("rejected"));
                assertThat(RawHttp.backendOf(RawHttp.get(second, "/"))).isEqualTo(endpoint);

                StringWriter listed = new StringWriter();
                CommandLine list = Main.commandLine();
                list.setOut(new PrintWriter(listed));
                assertThat(list.execute("list", "--stats", "--admin", Addresses.format(metrics))).isZero();
                assertThat(listed.toString()).contains("TCP  " + Addresses.format(first), "TCP  " + Addresses.format(second));
            } finally {
                lb.destroy();
                assertThat(lb.waitFor(30, TimeUnit.SECONDS)).as("lb exits after SIGTERM").isTrue();
            }
            String log = Files.readString(dir.resolve("lb.log"));
            assertThat(log).contains("SIGHUP: reloading", "config reloaded", "1 service(s) added",
                    "config reload rejected, the running config stays in force");
            assertThat(log).doesNotContain("Exception");
        }
    }

    /**
     * Issue #21: started under nohup, the process inherits SIGHUP ignored and the JVM keeps it so:
     * every SIGHUP was lost without a word. Now it says so once at start, and the admin reload
     * still works.
     */
    @Test
    void underNohupItSaysSighupWillNotReload(@TempDir Path dir) throws Exception {
        InetSocketAddress metrics = Ports.loopback(Ports.free());
        Path config = dir.resolve("l4lb.yaml");
        Files.writeString(config, Configs.tcpFile("test/a", Ports.loopback(Ports.free()), List.of(Ports.loopback(9)), metrics,
                Ports.loopback(Ports.free())));
        Path log = dir.resolve("lb.log");
        Process lb = LbJar.run(config, log, "nohup");
        try {
            assertThat(Files.readString(log)).containsOnlyOnce("SIGHUP is ignored in this process (started under nohup?)")
                    .contains("use POST /api/v1/reload on the admin address instead");
            signal(lb, "HUP");
            assertThat(AdminHttp.post(metrics, "/api/v1/reload", "Content-Type", "application/json").statusCode())
                    .isEqualTo(200);
        } finally {
            lb.destroy();
            assertThat(lb.waitFor(30, TimeUnit.SECONDS)).as("lb exits after SIGTERM").isTrue();
        }
    }

    private static String service(String name, InetSocketAddress listen, String endpoint) {
        return """
                services:
                  - name: test/%s
                    ports:
                      - name: p
                        listen: ["%s"]
                        endpoints: ["%s"]
                """.formatted(name, Addresses.format(listen), endpoint);
    }

    private static void signal(Process process, String signal) throws Exception {
        Process kill = new ProcessBuilder("kill", "-" + signal, Long.toString(process.pid())).inheritIO().start();
        assertThat(kill.waitFor(10, TimeUnit.SECONDS) && kill.exitValue() == 0).as("kill -" + signal).isTrue();
    }
}

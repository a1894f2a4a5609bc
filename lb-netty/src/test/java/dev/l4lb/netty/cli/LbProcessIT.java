package dev.l4lb.netty.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import dev.l4lb.netty.testing.RawHttp;

/**
 * The executable jar as a user runs it ({@code java -jar l4lb.jar demo}, what {@code ./lb demo}
 * execs): it serves, and SIGTERM stops it with everything closed. Run by failsafe after the jar
 * is built, on this JDK and on a Temurin 25 JDK when the machine has one.
 */
class LbProcessIT {
    private static final Path JAR = Path.of(System.getProperty("l4lb.jar", "target/l4lb.jar"));

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
        assertThat(JAR).as("the shaded jar built by package").exists();
        Process lb = new ProcessBuilder(javaHome.resolve("bin/java").toString(), "-jar", JAR.toString(), "demo")
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
}

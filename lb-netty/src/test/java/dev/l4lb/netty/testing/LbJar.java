package dev.l4lb.netty.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/** The shaded jar as users run it, for the tests that start {@code lb} as a process of its own. */
public final class LbJar {
    /** Built by {@code package}; failsafe passes its path. */
    public static final Path JAR = Path.of(System.getProperty("l4lb.jar", "target/l4lb.jar"));

    private LbJar() {
    }

    /**
     * Starts {@code lb run --config config --shutdown-grace 0s} (after {@code launcher}, such as
     * {@code nohup}, when given) with its output in {@code log}, and returns once its admin server
     * is up.
     */
    public static Process run(Path config, Path log, String... launcher) throws IOException {
        assertThat(JAR).as("the shaded jar built by package").exists();
        List<String> command = new ArrayList<>(List.of(launcher));
        command.addAll(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-jar", JAR.toString(),
                "run", "--config", config.toString(), "--shutdown-grace", "0s"));
        Process lb = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        await().atMost(Duration.ofSeconds(60)).until(() -> !lb.isAlive() || Files.readString(log).contains("admin: metrics"));
        assertThat(lb.isAlive()).as("lb started; its log:\n%s", Files.readString(log)).isTrue();
        return lb;
    }
}

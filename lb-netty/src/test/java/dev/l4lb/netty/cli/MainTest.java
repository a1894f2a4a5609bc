package dev.l4lb.netty.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** The lb command as a user meets it: help, and one clear report with a non-zero status on failure. */
class MainTest {
    @TempDir
    Path dir;

    @Test
    void helpListsTheCommands() {
        StringWriter out = new StringWriter();
        CommandLine lb = Main.commandLine();
        lb.setOut(new PrintWriter(out));
        assertThat(lb.execute("--help")).isZero();
        assertThat(out.toString()).contains("run", "demo", "list", "echo-server", "check");
    }

    @Test
    void aBadConfigIsReportedWithEveryProblemAndExitStatusTwo() throws Exception {
        Path config = dir.resolve("bad.yaml");
        Files.writeString(config, """
                services:
                  - name: demo/echo
                    ports:
                      - listen: ["127.0.0.1:99999"]
                        scheduler: fastest
                        endpoints: ["localhost:9001"]
                """);
        InProcessLb.Result result = InProcessLb.run("run", "--config", config.toString());

        assertThat(result.status()).isEqualTo(2);
        assertThat(result.err()).contains(
                config + ": services[0].ports[0].listen[0]: port '99999' in '127.0.0.1:99999' is out of range 1..65535",
                config + ": services[0].ports[0].scheduler: unknown scheduler 'fastest' (known: rr, wrr, lc, wlc, sed, nq, sh, mh, p2c, random)",
                config + ": services[0].ports[0].endpoints[0]: bad address 'localhost'");
    }

    @Test
    void aPortInUseIsOneLineAndExitStatusOne() throws Exception {
        try (ServerSocket squatter = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            Path config = dir.resolve("busy.yaml");
            Files.writeString(config, """
                    services:
                      - name: demo/busy
                        ports:
                          - listen: ["127.0.0.1:%d"]
                            endpoints: ["127.0.0.1:9"]
                    """.formatted(squatter.getLocalPort()));
            InProcessLb.Result result = InProcessLb.run("run", "--config", config.toString());

            assertThat(result.status()).isEqualTo(1);
            assertThat(result.err().strip()).isEqualTo("l4lb: cannot listen on 127.0.0.1:" + squatter.getLocalPort()
                    + " for demo/busy: the port is already in use");
        }
    }

    @Test
    void aNegativeThreadCountIsAUsageError() throws Exception {
        Path config = validConfig();
        InProcessLb.Result result = InProcessLb.run("run", "--config", config.toString(), "--threads", "-3");
        assertThat(result.status()).isEqualTo(2);
        assertThat(result.err().strip()).isEqualTo("l4lb: --threads -3 is negative (0 means one per core)");
    }

    /** Issue #21: run --help offered --healthz-bind-address (default 0.0.0.0:10256), which --config silently ignored. */
    @Test
    void proxierOptionsWithAConfigFileAreAUsageError() throws Exception {
        Path config = validConfig();
        InProcessLb.Result result = InProcessLb.run("run", "--config", config.toString(), "--healthz-bind-address",
                "0.0.0.0:10256", "--node-name", "a");
        assertThat(result.status()).isEqualTo(2);
        assertThat(result.err().strip()).startsWith("l4lb: --").contains("--healthz-bind-address", "--node-name")
                .endsWith("for --manifests and lb kube only; with --config the file says it (its admin: section for the"
                        + " admin addresses)");
    }

    @Test
    void checkValidatesWithoutBinding() throws Exception {
        Path config = validConfig();
        InProcessLb.Result result = InProcessLb.run("check", "--config", config.toString());
        assertThat(result.status()).isZero();
        assertThat(result.out()).contains("TCP demo/echo [127.0.0.1:8080] -> 1 endpoint(s), scheduler rr", config + ": OK");
    }

    private Path validConfig() throws Exception {
        Path config = dir.resolve("ok.yaml");
        Files.writeString(config, """
                services:
                  - name: demo/echo
                    ports:
                      - listen: ["127.0.0.1:8080"]
                        endpoints: ["127.0.0.1:9001"]
                """);
        return config;
    }
}

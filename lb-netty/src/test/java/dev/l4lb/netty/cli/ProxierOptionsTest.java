package dev.l4lb.netty.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;

import org.junit.jupiter.api.Test;
import picocli.CommandLine;

import dev.l4lb.core.kube.ProxierHealth;

/** The proxier's option defaults as the settings carry them, where they are kube-proxy's. */
class ProxierOptionsTest {
    @Test
    void theHealthzTimeoutDefaultsToKubeProxysTimeout() {
        ProxierOptions options = new ProxierOptions();
        new CommandLine(options).parseArgs("--node-name", "node-a");

        assertThat(options.settings().healthTimeout()).isEqualTo(ProxierHealth.DEFAULT_HEALTH_TIMEOUT);
    }

    @Test
    void anExplicitHealthzTimeoutWins() {
        ProxierOptions options = new ProxierOptions();
        new CommandLine(options).parseArgs("--node-name", "node-a", "--healthz-timeout", "5s");

        assertThat(options.settings().healthTimeout()).isEqualTo(Duration.ofSeconds(5));
    }
}

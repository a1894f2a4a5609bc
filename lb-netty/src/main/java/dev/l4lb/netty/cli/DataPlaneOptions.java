package dev.l4lb.netty.cli;

import java.time.Duration;

import picocli.CommandLine.Option;

import dev.l4lb.core.config.BalancerConfig;
import dev.l4lb.core.config.ConfigException;
import dev.l4lb.core.config.Durations;
import dev.l4lb.netty.Transport;

/** The options every command that runs the data plane shares, and reading them with a config. */
final class DataPlaneOptions {
    @Option(names = "--transport", defaultValue = "auto", paramLabel = "NAME",
            description = "auto (io_uring when available, else epoll, else nio), io_uring, epoll or nio. Default: ${DEFAULT-VALUE}.")
    String transport;

    @Option(names = "--threads", defaultValue = "0", paramLabel = "N",
            description = "Event loops of the data plane; 0 means one per core. Default: ${DEFAULT-VALUE}.")
    int threads;

    @Option(names = "--shutdown-grace", defaultValue = "10s", paramLabel = "DURATION",
            description = "On SIGTERM/SIGINT, how long open connections may finish. Default: ${DEFAULT-VALUE}.")
    String shutdownGrace;

    /** Where a command's config comes from. */
    interface ConfigSource {
        BalancerConfig load() throws ConfigException;
    }

    /** A validated config and the settings to serve it with. */
    record Plan(BalancerConfig config, Transport transport, int threads, Duration grace) {
    }

    /** Loads the config and checks the options; on a problem reports it and returns null. */
    Plan plan(ConfigSource source) {
        try {
            BalancerConfig config = source.load();
            Duration grace = Durations.parse(shutdownGrace).orElseThrow(() ->
                    new IllegalArgumentException("--shutdown-grace '" + shutdownGrace + "' is not a duration such as 10s"));
            if (threads < 0) {
                throw new IllegalArgumentException("--threads " + threads + " is negative (0 means one per core)");
            }
            return new Plan(config, Transport.select(transport), threads, grace);
        } catch (ConfigException e) {
            Reports.configError(e);
        } catch (IllegalArgumentException e) {
            Reports.usageError(e);
        }
        return null;
    }
}

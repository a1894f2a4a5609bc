package dev.l4lb.netty.cli;

import java.time.Duration;

import picocli.CommandLine.Option;

import dev.l4lb.core.config.Durations;
import dev.l4lb.netty.Transport;

/** The options every command that runs the data plane shares. */
final class DataPlaneOptions {
    @Option(names = "--transport", defaultValue = "auto", paramLabel = "NAME",
            description = "auto (epoll when available, else nio), epoll, io_uring or nio. Default: ${DEFAULT-VALUE}.")
    String transport;

    @Option(names = "--threads", defaultValue = "0", paramLabel = "N",
            description = "Event loops of the data plane; 0 means one per core. Default: ${DEFAULT-VALUE}.")
    int threads;

    @Option(names = "--shutdown-grace", defaultValue = "10s", paramLabel = "DURATION",
            description = "On SIGTERM/SIGINT, how long open connections may finish. Default: ${DEFAULT-VALUE}.")
    String shutdownGrace;

    Transport selectTransport() {
        return Transport.select(transport);
    }

    Duration grace() {
        return Durations.parse(shutdownGrace).orElseThrow(() ->
                new IllegalArgumentException("--shutdown-grace '" + shutdownGrace + "' is not a duration such as 10s"));
    }

}

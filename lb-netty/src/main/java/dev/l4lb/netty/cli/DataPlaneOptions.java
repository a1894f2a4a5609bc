package dev.l4lb.netty.cli;

import java.io.FileOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;

import picocli.CommandLine.Option;

import dev.l4lb.core.config.BalancerConfig;
import dev.l4lb.core.config.ConfigException;
import dev.l4lb.core.config.Durations;
import dev.l4lb.netty.transport.Transport;
import dev.l4lb.netty.log.ConnectionLog;

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

    @Option(names = "--connection-log", defaultValue = "off", paramLabel = "FORMAT",
            description = "One line per closed connection (client, endpoint, bytes, duration, outcome): "
                    + "off, text or json. Written by a thread of its own. Default: ${DEFAULT-VALUE}.")
    String connectionLog;

    @Option(names = "--connection-log-file", paramLabel = "FILE",
            description = "Append the connection log to FILE instead of standard output.")
    Path connectionLogFile;

    /** Lines the connection log holds when its writer falls behind; beyond that they are dropped and counted. */
    private static final int CONNECTION_LOG_BACKLOG = 65_536;

    /** Where a command's config comes from. */
    interface ConfigSource {
        BalancerConfig load() throws ConfigException;
    }

    /** A validated config and the settings to serve it with. */
    record Plan(BalancerConfig config, Transport transport, int threads, Duration grace,
                ConnectionLog.Format connectionLog, Path connectionLogFile) {

        /** Opens the connection log the options ask for ({@link ConnectionLog#off()} by default). */
        ConnectionLog openConnectionLog() {
            if (connectionLog == null) {
                return ConnectionLog.off();
            }
            PrintStream out = System.out;
            if (connectionLogFile != null) {
                try {
                    out = new PrintStream(new FileOutputStream(connectionLogFile.toFile(), true), false, StandardCharsets.UTF_8);
                } catch (IOException e) {
                    throw new UncheckedIOException("cannot open the connection log " + connectionLogFile, e);
                }
            }
            return ConnectionLog.start(connectionLog, out, CONNECTION_LOG_BACKLOG);
        }
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
            ConnectionLog.Format format = switch (connectionLog.toLowerCase(Locale.ROOT)) {
                case "off" -> null;
                case "text" -> ConnectionLog.Format.TEXT;
                case "json" -> ConnectionLog.Format.JSON;
                default -> throw new IllegalArgumentException("--connection-log '" + connectionLog + "' is not off, text or json");
            };
            if (connectionLogFile != null && format == null) {
                throw new IllegalArgumentException("--connection-log-file needs --connection-log text or json");
            }
            return new Plan(config, Transport.select(transport), threads, grace, format, connectionLogFile);
        } catch (ConfigException e) {
            Reports.configError(e);
        } catch (IllegalArgumentException e) {
            Reports.usageError(e);
        }
        return null;
    }
}

package dev.l4lb.netty.cli;

import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import dev.l4lb.core.config.BalancerConfig;
import dev.l4lb.core.config.ConfigException;
import dev.l4lb.core.config.ConfigLoader;
import dev.l4lb.netty.Balancer;
import dev.l4lb.netty.BindFailure;
import dev.l4lb.netty.Transport;

/** {@code lb run --config FILE}: serve a config until SIGTERM/SIGINT. */
@Command(name = "run", mixinStandardHelpOptions = true,
        description = "Serve the services of a config file until SIGTERM or SIGINT.")
final class RunCommand implements Callable<Integer> {
    @Option(names = {"-c", "--config"}, required = true, paramLabel = "FILE", description = "The config file (YAML).")
    Path config;

    @Mixin
    DataPlaneOptions options;

    @Override
    public Integer call() {
        BalancerConfig loaded;
        Transport transport;
        Duration grace;
        try {
            loaded = ConfigLoader.load(config);
            transport = options.selectTransport();
            grace = options.grace();
        } catch (ConfigException e) {
            return Reports.configError(e);
        } catch (IllegalArgumentException e) {
            return Reports.usageError(e);
        }
        Balancer balancer;
        try {
            balancer = Balancer.start(loaded, transport, options.threads);
        } catch (BindFailure e) {
            return Reports.bindFailure(e);
        }
        Serving.untilSignalled(() -> balancer.shutdown(grace));
        return ExitCodes.OK;
    }
}

package dev.l4lb.netty.cli;

import java.nio.file.Path;
import java.util.concurrent.Callable;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import dev.l4lb.core.config.ConfigLoader;
import dev.l4lb.netty.Balancer;
import dev.l4lb.netty.BindFailure;

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
        DataPlaneOptions.Plan plan = options.plan(() -> ConfigLoader.load(config));
        if (plan == null) {
            return ExitCodes.CONFIG_ERROR;
        }
        Balancer balancer;
        try {
            balancer = Balancer.start(plan.config(), plan.transport(), plan.threads());
        } catch (BindFailure e) {
            return Reports.bindFailure(e);
        } catch (RuntimeException e) {
            return Reports.startFailure(e); // e.g. the kernel refused an io_uring ring
        }
        Serving.untilSignalled(() -> balancer.shutdown(plan.grace()));
        return ExitCodes.OK;
    }
}

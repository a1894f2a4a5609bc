package dev.l4lb.netty.cli;

import java.nio.file.Path;
import java.util.concurrent.Callable;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import sun.misc.Signal;

import dev.l4lb.core.config.ConfigLoader;
import dev.l4lb.netty.Balancer;
import dev.l4lb.netty.BindFailure;
import dev.l4lb.netty.ConfigReloader;
import dev.l4lb.netty.admin.AdminServer;
import dev.l4lb.netty.log.ConnectionLog;

/** {@code lb run --config FILE}: serve a config until SIGTERM/SIGINT, reloading it on SIGHUP. */
@Command(name = "run", mixinStandardHelpOptions = true,
        description = {"Serve the services of a config file until SIGTERM or SIGINT.",
                "SIGHUP (or POST /api/v1/reload on the admin address) reloads the file; a file with "
                        + "problems is rejected and the running config stays."})
final class RunCommand implements Callable<Integer> {
    private static final Logger LOG = LoggerFactory.getLogger(RunCommand.class);

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
        AdminServer admin;
        try {
            ConnectionLog log = plan.openConnectionLog();
            balancer = Balancer.start(plan.config(), plan.transport(), plan.threads(), log);
        } catch (BindFailure e) {
            return Reports.bindFailure(e);
        } catch (RuntimeException e) {
            return Reports.startFailure(e); // e.g. the kernel refused an io_uring ring
        }
        ConfigReloader reloader = new ConfigReloader(config, balancer);
        try {
            admin = AdminServer.start(plan.config().admin(), balancer, reloader);
        } catch (BindFailure e) {
            balancer.close();
            return Reports.bindFailure(e);
        }
        // Off the signal thread, which must not block; reloads run one at a time anyway.
        Signal.handle(new Signal("HUP"), signal -> new Thread(() -> {
            LOG.info("SIGHUP: reloading {}", config);
            reloader.reload(); // the balancer logs what changed, or why the file was rejected
        }, "l4lb-reload").start());
        Serving.untilSignalled(() -> {
            admin.close();
            balancer.shutdown(plan.grace());
        });
        return ExitCodes.OK;
    }
}

package dev.l4lb.netty.cli;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import sun.misc.Signal;
import sun.misc.SignalHandler;

import dev.l4lb.core.config.BalancerConfig;
import dev.l4lb.core.config.ConfigException;
import dev.l4lb.core.config.ConfigLoader;
import dev.l4lb.netty.Balancer;
import dev.l4lb.netty.transport.BindFailure;
import dev.l4lb.netty.ConfigReloader;
import dev.l4lb.netty.admin.AdminServer;
import dev.l4lb.netty.kube.ManifestSource;
import dev.l4lb.netty.kube.ProxierRuntime;
import dev.l4lb.netty.log.ConnectionLog;

/** {@code lb run --config FILE}: serve a config until SIGTERM/SIGINT, reloading it on SIGHUP. */
@Command(name = "run", mixinStandardHelpOptions = true,
        description = {"Serve the services of a config file until SIGTERM or SIGINT.",
                "SIGHUP (or POST /api/v1/reload on the admin address) reloads the file; a file with "
                        + "problems is rejected and the running config stays.",
                "With --manifests, serve Kubernetes Services and EndpointSlices (or Endpoints) read from "
                        + "manifest files and directories instead, as lb kube would serve them from the API; "
                        + "SIGHUP reads them again."})
final class RunCommand implements Callable<Integer> {
    private static final Logger LOG = LoggerFactory.getLogger(RunCommand.class);

    @Option(names = {"-c", "--config"}, paramLabel = "FILE", description = "The config file (YAML).")
    Path config;

    @Option(names = "--manifests", arity = "1..*", paramLabel = "PATH",
            description = "Kubernetes manifests (files or directories) to serve instead of a config file.")
    List<Path> manifests;

    @Mixin
    DataPlaneOptions options;

    @Mixin
    ProxierOptions proxier;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        if ((config == null) == (manifests == null)) {
            return Reports.usageError(new IllegalArgumentException("give either --config FILE or --manifests PATH..."));
        }
        if (manifests != null) {
            return serveManifests();
        }
        List<String> proxierOnly = spec.mixins().get("proxier").options().stream().map(OptionSpec::longestName)
                .filter(name -> spec.commandLine().getParseResult().hasMatchedOption(name)).toList();
        if (!proxierOnly.isEmpty()) {
            // Taken silently, they would mislead: --healthz-bind-address 0.0.0.0:10256 would not move the file's admin address.
            return Reports.usageError(new IllegalArgumentException(String.join(", ", proxierOnly) + ": for --manifests and"
                    + " lb kube only; with --config the file says it (its admin: section for the admin addresses)"));
        }
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
        onHangup(() -> {
            LOG.info("SIGHUP: reloading {}", config);
            reloader.reload(); // the balancer logs what changed, or why the file was rejected
        }, "POST /api/v1/reload on the admin address");
        Serving.untilSignalled(() -> {
            admin.close();
            balancer.shutdown(plan.grace());
        });
        return ExitCodes.OK;
    }

    private int serveManifests() {
        // The manifests first, as a config file is read first: a problem in them is a config error.
        ManifestSource source;
        try {
            source = ManifestSource.read(manifests);
        } catch (ConfigException e) {
            return Reports.configError(e);
        }
        DataPlaneOptions.Plan plan = options.plan(() -> new BalancerConfig(List.of(), proxier.admin()));
        if (plan == null) {
            return ExitCodes.CONFIG_ERROR;
        }
        ProxierRuntime runtime;
        try {
            ProxierRuntime.Settings settings = proxier.settings();
            runtime = ProxierRuntime.start(settings, plan.config().admin(), plan.transport(), plan.threads(),
                    plan.openConnectionLog(), onChange -> source);
        } catch (IllegalArgumentException e) {
            return Reports.usageError(e);
        } catch (BindFailure e) {
            return Reports.bindFailure(e);
        } catch (RuntimeException e) {
            return Reports.startFailure(e);
        }
        onHangup(() -> {
            LOG.info("SIGHUP: reading {} again", manifests);
            if (source.reload()) {
                runtime.proxier().changed();
            }
        }, "a restart");
        Serving.untilSignalled(() -> runtime.shutdown(plan.grace()));
        return ExitCodes.OK;
    }

    /**
     * Runs {@code reload} on SIGHUP, on a thread of its own (the signal thread must not block;
     * reloads run one at a time anyway). A process started with SIGHUP ignored ({@code nohup}
     * does that) inherits the ignoring, and the JVM then leaves it so without a word: every later
     * SIGHUP would be lost silently, so say so once, with what reloads {@code instead}.
     */
    private static void onHangup(Runnable reload, String instead) {
        SignalHandler handler = signal -> new Thread(reload, "l4lb-reload").start();
        if (Signal.handle(new Signal("HUP"), handler) == SignalHandler.SIG_IGN) {
            LOG.warn("SIGHUP is ignored in this process (started under nohup?), so it will not reload; use {} instead,"
                    + " or start lb without nohup (setsid, a service manager)", instead);
        }
    }
}

package dev.l4lb.netty.cli;

import java.nio.file.Path;
import java.util.concurrent.Callable;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import dev.l4lb.core.config.ConfigLoader;
import dev.l4lb.core.model.Addresses;
import dev.l4lb.core.model.Protocol;
import dev.l4lb.core.model.ServicePort;
import dev.l4lb.netty.transport.BindFailure;
import dev.l4lb.netty.admin.AdminServer;

/** {@code lb demo}: three in-process test backends and the balancer in front of them. */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = {"Start echo backends on every endpoint of the demo config and serve it.",
                "With no --config, uses the config/demo.yaml built into the jar."})
final class DemoCommand implements Callable<Integer> {
    @Option(names = {"-c", "--config"}, paramLabel = "FILE", description = "A config to demo instead of the built-in one.")
    Path config;

    @Mixin
    DataPlaneOptions options;

    @Override
    public Integer call() {
        DataPlaneOptions.Plan plan = options.plan(() -> config == null ? Demo.embeddedConfig() : ConfigLoader.load(config));
        if (plan == null) {
            return ExitCodes.CONFIG_ERROR;
        }
        Demo demo;
        AdminServer admin;
        try {
            demo = Demo.start(plan.config(), plan.transport(), plan.threads(), plan.openConnectionLog());
        } catch (BindFailure e) {
            return Reports.bindFailure(e);
        } catch (RuntimeException e) {
            return Reports.startFailure(e); // e.g. the kernel refused an io_uring ring
        }
        try {
            // The demo's backends are started once for the config's endpoints: nothing to reload.
            admin = AdminServer.start(plan.config().admin(), demo.balancer(), null);
        } catch (BindFailure e) {
            demo.close();
            return Reports.bindFailure(e);
        }
        System.out.println("demo backends on " + demo.backendAddresses().stream().map(Addresses::format).toList());
        plan.config().services().forEach(s -> s.ports().forEach(p -> System.out.println(hint(s.qualifiedName(), p))));
        System.out.println("stats page: http://" + Addresses.format(admin.metricsAddress()) + "/   listing: ./lb list");
        System.out.println("Ctrl-C stops it.");
        Serving.untilSignalled(() -> {
            admin.close();
            demo.shutdown(plan.grace());
        });
        return ExitCodes.OK;
    }

    private static String hint(String service, ServicePort port) {
        String listen = Addresses.format(port.listen().get(0));
        String head = service + " (" + port.protocol() + ", " + port.policy().scheduler().configName() + " over "
                + port.endpoints().size() + " backends): try  ";
        if (port.protocol() == Protocol.UDP) {
            return head + "echo whoami | socat - UDP:" + listen + "  a few times";
        }
        return head + "curl -s http://" + listen + "/  a few times";
    }
}

package dev.l4lb.netty.cli;

import java.nio.file.Path;
import java.util.concurrent.Callable;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import dev.l4lb.core.config.ConfigLoader;
import dev.l4lb.core.model.Addresses;
import dev.l4lb.core.model.ServicePort;
import dev.l4lb.netty.BindFailure;

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
        try {
            demo = Demo.start(plan.config(), plan.transport(), plan.threads());
        } catch (BindFailure e) {
            return Reports.bindFailure(e);
        } catch (RuntimeException e) {
            return Reports.startFailure(e); // e.g. the kernel refused an io_uring ring
        }
        System.out.println("demo backends on " + demo.backendAddresses().stream().map(Addresses::format).toList());
        plan.config().services().forEach(s -> s.ports().forEach(p -> System.out.println(hint(s.qualifiedName(), p))));
        System.out.println("Ctrl-C stops it.");
        Serving.untilSignalled(() -> demo.shutdown(plan.grace()));
        return ExitCodes.OK;
    }

    private static String hint(String service, ServicePort port) {
        String listen = Addresses.format(port.listen().get(0));
        return service + " (" + port.policy().scheduler() + " over " + port.endpoints().size()
                + " backends): try  curl -s http://" + listen + "/  a few times";
    }
}

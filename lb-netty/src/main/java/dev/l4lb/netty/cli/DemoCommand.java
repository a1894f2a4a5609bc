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
import dev.l4lb.core.model.Addresses;
import dev.l4lb.core.model.ServicePort;
import dev.l4lb.netty.BindFailure;
import dev.l4lb.netty.Transport;

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
        BalancerConfig loaded;
        Transport transport;
        Duration grace;
        try {
            loaded = config == null ? Demo.embeddedConfig() : ConfigLoader.load(config);
            transport = options.selectTransport();
            grace = options.grace();
        } catch (ConfigException e) {
            return Reports.configError(e);
        } catch (IllegalArgumentException e) {
            return Reports.usageError(e);
        }
        Demo demo;
        try {
            demo = Demo.start(loaded, transport, options.threads);
        } catch (BindFailure e) {
            return Reports.bindFailure(e);
        }
        System.out.println("demo backends on " + demo.backendAddresses().stream().map(Addresses::format).toList());
        loaded.services().forEach(s -> s.ports().forEach(p -> System.out.println(hint(s.qualifiedName(), p))));
        System.out.println("Ctrl-C stops it.");
        Serving.untilSignalled(() -> demo.shutdown(grace));
        return ExitCodes.OK;
    }

    private static String hint(String service, ServicePort port) {
        String listen = Addresses.format(port.listen().get(0));
        return service + " (" + port.policy().scheduler() + " over " + port.endpoints().size()
                + " backends): try  curl -s http://" + listen + "/  a few times";
    }
}

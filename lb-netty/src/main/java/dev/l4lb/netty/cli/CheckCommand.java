package dev.l4lb.netty.cli;

import java.nio.file.Path;
import java.util.concurrent.Callable;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import dev.l4lb.core.config.BalancerConfig;
import dev.l4lb.core.config.ConfigException;
import dev.l4lb.core.config.ConfigLoader;
import dev.l4lb.core.model.Addresses;
import dev.l4lb.core.model.Service;
import dev.l4lb.core.model.ServicePort;

/** {@code lb check --config FILE}: validate a config and say what it would serve, without binding. */
@Command(name = "check", mixinStandardHelpOptions = true,
        description = "Validate a config file and list what it would serve; binds nothing.")
final class CheckCommand implements Callable<Integer> {
    @Option(names = {"-c", "--config"}, required = true, paramLabel = "FILE", description = "The config file (YAML).")
    Path config;

    @Override
    public Integer call() {
        BalancerConfig loaded;
        try {
            loaded = ConfigLoader.load(config);
        } catch (ConfigException e) {
            return Reports.configError(e);
        }
        for (Service service : loaded.services()) {
            for (ServicePort port : service.ports()) {
                System.out.printf("%s %s%s %s -> %d endpoint(s), scheduler %s%n", port.protocol(), service.qualifiedName(),
                        port.name().isEmpty() ? "" : ":" + port.name(),
                        port.listen().stream().map(Addresses::format).toList(), port.endpoints().size(),
                        port.policy().scheduler().configName());
            }
        }
        System.out.println(config + ": OK");
        return ExitCodes.OK;
    }
}

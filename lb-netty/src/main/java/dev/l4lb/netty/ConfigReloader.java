package dev.l4lb.netty;

import java.nio.file.Path;
import java.util.List;

import dev.l4lb.core.config.BalancerConfig;
import dev.l4lb.core.config.ConfigException;
import dev.l4lb.core.config.ConfigLoader;
import dev.l4lb.core.config.ConfigProblem;

/**
 * Reloads a balancer from its config file, for {@code POST /api/v1/reload} and SIGHUP. A file
 * with any problem is rejected as a whole with every problem listed, and the running config
 * stays in force; so is one with no services at all while some are served.
 */
public final class ConfigReloader {
    private final Path file;
    private final Balancer balancer;

    public ConfigReloader(Path file, Balancer balancer) {
        this.file = file;
        this.balancer = balancer;
    }

    /** The file reloads read. */
    public Path file() {
        return file;
    }

    public Reload reload() {
        long started = System.nanoTime();
        BalancerConfig next;
        try {
            next = ConfigLoader.load(file);
        } catch (ConfigException e) {
            return balancer.reject(e.problems().stream().map(ConfigProblem::toString).toList(), started);
        }
        if (next.services().isEmpty() && !balancer.config().services().isEmpty()) {
            // A file emptied by mistake (a template that rendered nothing, a half-finished edit)
            // would otherwise close every listener at once.
            return balancer.reject(List.of(file + ": services: [] would close every listener; a reload does not take"
                    + " the balancer down to nothing: stop lb for that, or start it with this file"), started);
        }
        return balancer.reload(next, started);
    }
}

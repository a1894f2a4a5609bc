package dev.l4lb.core.config;

import java.util.List;
import java.util.Objects;

import dev.l4lb.core.model.Service;

/**
 * A whole validated config file.
 *
 * @param services the services to serve, in file order
 * @param admin    the admin listeners
 */
public record BalancerConfig(List<Service> services, AdminConfig admin) {

    public BalancerConfig {
        services = List.copyOf(services);
        Objects.requireNonNull(admin, "admin");
    }
}

package dev.l4lb.core.kube;

import java.util.List;

import dev.l4lb.core.model.Service;

/**
 * What the cluster's Services and EndpointSlices mean on this node: the balancer's services (with
 * their listeners and the endpoints each kind of traffic may use), the portals that steer
 * ClusterIP traffic to them, and the health check node ports to answer.
 *
 * @param services      what the balancer serves
 * @param portals       ClusterIP:port to proxy port redirections (REDIRECT portals)
 * @param healthChecks  healthCheckNodePort servers of externalTrafficPolicy Local services
 * @param skipped       services and ports left out, each with why (headless, ExternalName, SCTP, ...)
 * @param ignored       parts of served Services left out, each with why (a source range or an
 *                      annotation value that means nothing)
 */
public record ProxierPlan(List<Service> services, List<Portal> portals, List<ServiceHealth> healthChecks,
                          List<String> skipped, List<String> ignored) {

    public ProxierPlan {
        services = List.copyOf(services);
        portals = List.copyOf(portals);
        healthChecks = List.copyOf(healthChecks);
        skipped = List.copyOf(skipped);
        ignored = List.copyOf(ignored);
    }

    /** A plan that ignored nothing. */
    public ProxierPlan(List<Service> services, List<Portal> portals, List<ServiceHealth> healthChecks, List<String> skipped) {
        this(services, portals, healthChecks, skipped, List.of());
    }

    /** The TCP ClusterIP:ports reached through the transparent listener (TPROXY portals), every port's. */
    public List<java.net.InetSocketAddress> intercepted() {
        return services.stream().flatMap(s -> s.ports().stream()).flatMap(p -> p.intercepted().stream()).toList();
    }
}

package dev.l4lb.core.table;

import java.net.InetAddress;
import java.util.List;

import org.jspecify.annotations.Nullable;

import dev.l4lb.core.health.PortHealth;
import dev.l4lb.core.limits.PortLimiter;
import dev.l4lb.core.model.PortPolicy;
import dev.l4lb.core.model.Service;
import dev.l4lb.core.model.ServicePort;
import dev.l4lb.core.sched.Backend;
import dev.l4lb.core.sched.Scheduler;

/**
 * Everything the data plane needs for a connection that arrived on one listener: the service
 * port, its scheduler over its backends, and its counters.
 *
 * @param service   the owning service
 * @param port      the service port
 * @param backends  every endpoint with its counters, in config order
 * @param scheduler picks among the eligible backends
 * @param counters  the port's live counts
 * @param health    its endpoints' health taken together (who is in service, whether it fails open)
 * @param shortCircuit the sibling port's route for the clients the port's
 *                  {@link ServicePort#shortCircuit() short circuit} covers; null when it has none
 * @param limiter   the port's per-client limits and rate, live
 */
public record Route(Service service, ServicePort port, List<Backend> backends, Scheduler scheduler,
                    PortCounters counters, PortHealth health, @Nullable Route shortCircuit,
                    PortLimiter limiter) {

    public Route {
        backends = List.copyOf(backends);
    }

    /** The route that serves this client: the short circuit's, for a client it covers; else this one. */
    public Route forClient(InetAddress client) {
        return shortCircuit != null && port.shortCircuit().get().covers(client) ? shortCircuit : this;
    }

    public PortPolicy policy() {
        return port.policy();
    }

    /** {@code namespace/name:port} for logs and errors. */
    public String displayName() {
        return health.name();
    }
}

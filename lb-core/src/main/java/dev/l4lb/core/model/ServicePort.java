package dev.l4lb.core.model;

import java.net.InetSocketAddress;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * One port of a service: where the balancer listens, and the endpoints it relays to.
 *
 * @param name        the port's name (unique within the service; may be empty for a single port)
 * @param protocol    TCP or UDP
 * @param listen      the addresses the balancer binds for this port
 * @param targetPort  the endpoints' port when an endpoint does not name one; 0 when unset
 * @param policy      scheduling, affinity, PROXY protocol, timeouts and limits
 * @param endpoints   the backends, in config order
 * @param intercepted addresses the balancer does not bind but the kernel steers to its transparent
 *                    listener (a ClusterIP:port under TPROXY portals): a connection whose local
 *                    address is one of these is routed to this port
 * @param shortCircuit  clients served by a sibling port's endpoints instead (kube-proxy's routing
 *                      of node and pod traffic for externalTrafficPolicy Local); empty for none
 * @param health      active checks and outlier detection of the endpoints; {@link HealthPolicy#NONE} for none
 * @param serverNames the TLS server names that pick this port on a listener it shares;
 *                    {@link ServerNames#NONE} when it is not routed by name
 */
public record ServicePort(String name, Protocol protocol, List<InetSocketAddress> listen, int targetPort,
                          PortPolicy policy, List<Endpoint> endpoints, List<InetSocketAddress> intercepted,
                          Optional<ShortCircuit> shortCircuit, HealthPolicy health,
                          ServerNames serverNames) {

    public ServicePort {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(protocol, "protocol");
        listen = List.copyOf(listen);
        Objects.requireNonNull(policy, "policy");
        endpoints = List.copyOf(endpoints);
        intercepted = List.copyOf(intercepted);
        Objects.requireNonNull(shortCircuit, "shortCircuit");
        Objects.requireNonNull(health, "health");
        Objects.requireNonNull(serverNames, "serverNames");
        if (serverNames.routed() && protocol != Protocol.TCP) {
            throw new IllegalArgumentException("serverNames are for TCP ports (TLS ClientHellos)");
        }
    }

    /** A port not routed by server name. */
    public ServicePort(String name, Protocol protocol, List<InetSocketAddress> listen, int targetPort,
                       PortPolicy policy, List<Endpoint> endpoints, List<InetSocketAddress> intercepted,
                       Optional<ShortCircuit> shortCircuit, HealthPolicy health) {
        this(name, protocol, listen, targetPort, policy, endpoints, intercepted, shortCircuit, health, ServerNames.NONE);
    }

    /** A port whose endpoints are as the config says (no health checks). */
    public ServicePort(String name, Protocol protocol, List<InetSocketAddress> listen, int targetPort,
                       PortPolicy policy, List<Endpoint> endpoints, List<InetSocketAddress> intercepted,
                       Optional<ShortCircuit> shortCircuit) {
        this(name, protocol, listen, targetPort, policy, endpoints, intercepted, shortCircuit, HealthPolicy.NONE);
    }

    /** A port that is reached only on the addresses it binds. */
    public ServicePort(String name, Protocol protocol, List<InetSocketAddress> listen, int targetPort,
                       PortPolicy policy, List<Endpoint> endpoints) {
        this(name, protocol, listen, targetPort, policy, endpoints, List.of(), Optional.empty(), HealthPolicy.NONE);
    }

    /** This port with {@code policy} for its endpoints' health. */
    public ServicePort withHealth(HealthPolicy policy) {
        return new ServicePort(name, protocol, listen, targetPort, this.policy, endpoints, intercepted, shortCircuit, policy,
                serverNames);
    }

    /** This port chosen on its listener by these TLS server names. */
    public ServicePort withServerNames(ServerNames names) {
        return new ServicePort(name, protocol, listen, targetPort, policy, endpoints, intercepted, shortCircuit, health, names);
    }
}

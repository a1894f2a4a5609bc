package dev.l4lb.core.table;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.jspecify.annotations.Nullable;

import dev.l4lb.core.affinity.AffinityTable;
import dev.l4lb.core.affinity.ClientIpAffinity;
import dev.l4lb.core.health.EndpointHealth;
import dev.l4lb.core.health.HealthListener;
import dev.l4lb.core.health.PortHealth;
import dev.l4lb.core.limits.PortLimiter;
import dev.l4lb.core.model.Endpoint;
import dev.l4lb.core.model.PortPolicy;
import dev.l4lb.core.model.Protocol;
import dev.l4lb.core.model.Service;
import dev.l4lb.core.model.ServicePort;
import dev.l4lb.core.model.SessionAffinity;
import dev.l4lb.core.sched.Backend;
import dev.l4lb.core.sched.Eligibility;
import dev.l4lb.core.sched.EndpointCounters;
import dev.l4lb.core.sched.Scheduler;
import dev.l4lb.core.sched.Schedulers;

/**
 * The immutable routing table the data plane reads: listener address to {@link Route}, or, for a
 * listener its ports share by TLS server name, to their {@link ServerNameRoutes}. A config
 * change builds a new snapshot and swaps it in with one atomic write; connections in flight keep
 * the backend they hold.
 */
public final class ServiceSnapshot {
    private static final ServiceSnapshot EMPTY = new ServiceSnapshot(List.of(), Map.of(), Map.of(), Map.of());

    private final List<Route> routes;
    private final Map<InetSocketAddress, Route> tcp;
    private final Map<InetSocketAddress, Route> udp;
    /** TCP listeners whose ports are chosen by server name; none of them is in {@link #tcp}. */
    private final Map<InetSocketAddress, ServerNameRoutes> named;

    private ServiceSnapshot(List<Route> routes, Map<InetSocketAddress, Route> tcp, Map<InetSocketAddress, Route> udp,
                            Map<InetSocketAddress, ServerNameRoutes> named) {
        this.routes = routes;
        this.tcp = tcp;
        this.udp = udp;
        this.named = named;
    }

    /** A snapshot with no services. */
    public static ServiceSnapshot empty() {
        return EMPTY;
    }

    /**
     * Builds the table for these services. Ports and endpoints that {@code previous} already had
     * (same service, port name and endpoint address) keep their counters.
     *
     * @throws IllegalArgumentException when two ports claim the same listener, or a short circuit
     *                                  names a port that is missing or short-circuits too (validated
     *                                  config never does)
     */
    public static ServiceSnapshot build(List<Service> services, ServiceSnapshot previous) {
        Map<String, Route> before = new HashMap<>();
        for (Route route : previous.routes) {
            before.put(portKey(route.service(), route.port()), route);
        }
        // Ports that hand clients to a sibling are built after the siblings, which serve everyone.
        Map<String, Route> built = new HashMap<>();
        for (int pass = 0; pass < 2; pass++) {
            for (Service service : services) {
                for (ServicePort port : service.ports()) {
                    if (port.shortCircuit().isPresent() == (pass == 1)) {
                        Route target = pass == 1 ? shortCircuitTarget(service, port, built) : null;
                        built.put(portKey(service, port), route(service, port, before.get(portKey(service, port)), target));
                    }
                }
            }
        }
        List<Route> routes = new ArrayList<>();
        Map<InetSocketAddress, Route> tcp = new HashMap<>();
        Map<InetSocketAddress, Route> udp = new HashMap<>();
        Map<InetSocketAddress, List<Route>> sharing = new LinkedHashMap<>();
        for (Service service : services) {
            for (ServicePort port : service.ports()) {
                Route route = built.get(portKey(service, port));
                routes.add(route);
                Map<InetSocketAddress, Route> byListener = port.protocol() == Protocol.TCP ? tcp : udp;
                if (port.serverNames().routed()) {
                    port.listen().forEach(address -> sharing.computeIfAbsent(address, a -> new ArrayList<>()).add(route));
                } else {
                    claim(byListener, port.listen(), route);
                }
                claim(byListener, port.intercepted(), route);
            }
        }
        Map<InetSocketAddress, ServerNameRoutes> named = new HashMap<>();
        sharing.forEach((address, onIt) -> {
            if (tcp.containsKey(address)) {
                throw new IllegalArgumentException("listener " + address + " of " + tcp.get(address).displayName()
                        + " is also routed by server name for " + onIt.get(0).displayName());
            }
            ServerNameRoutes old = previous.named.get(address);
            named.put(address, new ServerNameRoutes(address, onIt, old != null ? old.rejections() : new HelloRejections()));
        });
        return new ServiceSnapshot(Collections.unmodifiableList(routes), tcp, udp, named);
    }

    private static Route shortCircuitTarget(Service service, ServicePort port, Map<String, Route> built) {
        String sibling = port.shortCircuit().orElseThrow().port();
        for (ServicePort candidate : service.ports()) {
            if (candidate.name().equals(sibling) && candidate.protocol() == port.protocol()) {
                if (candidate.shortCircuit().isPresent()) {
                    throw new IllegalArgumentException("port " + port.name() + " of " + service.qualifiedName()
                            + " hands clients to port " + sibling + ", which hands them on again");
                }
                return built.get(portKey(service, candidate));
            }
        }
        throw new IllegalArgumentException("port " + port.name() + " of " + service.qualifiedName()
                + " hands clients to port " + sibling + ", which the service has not (as " + port.protocol() + ")");
    }

    /**
     * Puts this snapshot's schedulers in service; the data plane calls it just before swapping
     * the snapshot in. Least-load schedulers follow the endpoint counts from then on, and those
     * of the snapshot before stop; each port's health takes its endpoints and policy (and tells
     * {@code healthEvents} of the transitions that follow).
     */
    public void activate(HealthListener healthEvents) {
        for (Route route : routes) {
            for (Backend backend : route.backends()) {
                backend.counters().unwatch();
            }
        }
        for (Route route : routes) {
            route.scheduler().activate();
            List<EndpointHealth> members = new ArrayList<>();
            for (Backend backend : Eligibility.eligible(route.backends())) {
                members.add(backend.health());
            }
            route.health().attach(route.port().health(), members, healthEvents);
        }
    }

    /** {@link #activate(HealthListener)} with nobody hearing of health transitions. */
    public void activate() {
        activate(HealthListener.NONE);
    }

    /**
     * The route for a connection accepted on this TCP listener, or {@code null}. A connection
     * accepted by a transparent listener is looked up by its own local address, the original
     * destination (an {@link ServicePort#intercepted() intercepted} address).
     */
    public @Nullable Route lookupTcp(InetSocketAddress listener) {
        return tcp.get(listener);
    }

    /** The ports sharing this TCP listener by server name, or {@code null} when it is not routed by name. */
    public @Nullable ServerNameRoutes lookupServerNames(InetSocketAddress listener) {
        return named.get(listener);
    }

    /** Every TCP listener routed by server name. */
    public Collection<ServerNameRoutes> serverNameRoutes() {
        return named.values();
    }

    /** The route for a datagram received on this UDP listener, or {@code null}. */
    public @Nullable Route lookupUdp(InetSocketAddress listener) {
        return udp.get(listener);
    }

    /** Every route, in config order. */
    public List<Route> routes() {
        return routes;
    }

    /** Client connections open now on every port. */
    public int activeConnections() {
        int sum = 0;
        for (Route route : routes) {
            sum += route.counters().active();
        }
        return sum;
    }

    private static Route route(Service service, ServicePort port, @Nullable Route old, @Nullable Route shortCircuit) {
        Map<InetSocketAddress, EndpointCounters> oldCounters = new HashMap<>();
        if (old != null) {
            for (Backend b : old.backends()) {
                oldCounters.put(b.address(), b.counters());
            }
        }
        List<Backend> backends = new ArrayList<>(port.endpoints().size());
        for (Endpoint endpoint : port.endpoints()) {
            EndpointCounters counters = oldCounters.get(endpoint.address());
            if (counters == null) {
                counters = new EndpointCounters(endpoint.address());
            }
            backends.add(new Backend(endpoint, counters));
        }
        Scheduler scheduler = Schedulers.prepare(port.policy().scheduler(), port.policy().hashKey(), backends);
        PortPolicy policy = port.policy();
        if (policy.sessionAffinity() == SessionAffinity.CLIENT_IP) {
            Duration timeout = Duration.ofSeconds(policy.sessionAffinityTimeoutSeconds());
            AffinityTable table = old != null && old.scheduler() instanceof ClientIpAffinity before
                    && before.table().fits(timeout, policy.sessionAffinityMaxEntries())
                    ? before.table()
                    : new AffinityTable(timeout, policy.sessionAffinityMaxEntries());
            scheduler = new ClientIpAffinity(scheduler, backends, table);
        }
        PortCounters counters = old != null ? old.counters() : new PortCounters();
        PortHealth health = old != null ? old.health() : new PortHealth(displayName(service, port));
        PortLimiter limiter = old != null && old.limiter().fits(policy.limits()) ? old.limiter() : new PortLimiter(policy.limits());
        return new Route(service, port, backends, scheduler, counters, health, shortCircuit, limiter);
    }

    private static void claim(Map<InetSocketAddress, Route> byAddress, List<InetSocketAddress> addresses, Route route) {
        for (InetSocketAddress address : addresses) {
            Route clash = byAddress.putIfAbsent(address, route);
            if (clash != null) {
                throw new IllegalArgumentException("listener " + address + " of " + route.displayName()
                        + " is already used by " + clash.displayName());
            }
        }
    }

    private static String displayName(Service service, ServicePort port) {
        return port.name().isEmpty() ? service.qualifiedName() : service.qualifiedName() + ":" + port.name();
    }

    private static String portKey(Service service, ServicePort port) {
        return service.qualifiedName() + "\u0000" + port.protocol() + "\u0000" + port.name();
    }
}

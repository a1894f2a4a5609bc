package dev.l4lb.core.table;

import java.net.InetSocketAddress;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

import org.jspecify.annotations.Nullable;

import dev.l4lb.core.model.Protocol;

/**
 * The one routing table of a running balancer: the snapshot in force for both protocols, and the
 * routes of the listeners the last switch removed. Each data plane reads it on every new
 * connection or session without a lock; a reload {@link #switchTo switches} it with one write.
 */
public final class RoutingTable {
    /** The snapshot in force and the routes the listeners removed with it had: read as one. */
    private record InForce(ServiceSnapshot snapshot, Map<InetSocketAddress, Route> retiredTcp,
                           Map<InetSocketAddress, Route> retiredUdp, Map<InetSocketAddress, ServerNameRoutes> retiredNamed) {
    }

    private volatile InForce inForce = new InForce(ServiceSnapshot.empty(), Map.of(), Map.of(), Map.of());

    /** The snapshot in force. */
    public ServiceSnapshot snapshot() {
        return inForce.snapshot();
    }

    /**
     * The route for traffic of {@code protocol} that arrived on {@code listener}: the snapshot's,
     * or, for a listener the last switch removed, the one it had then (what it took in before it
     * closed is still served); null when neither has one.
     */
    public @Nullable Route route(Protocol protocol, InetSocketAddress listener) {
        InForce now = inForce;
        if (protocol == Protocol.TCP) {
            Route route = now.snapshot().lookupTcp(listener);
            return route != null ? route : now.retiredTcp().get(listener);
        }
        Route route = now.snapshot().lookupUdp(listener);
        return route != null ? route : now.retiredUdp().get(listener);
    }

    /**
     * The ports sharing this TCP listener by server name: the snapshot's, or, for a listener the
     * last switch removed, the ones it had then; null when the listener is not routed by name.
     */
    public @Nullable ServerNameRoutes serverNames(InetSocketAddress listener) {
        InForce now = inForce;
        ServerNameRoutes routes = now.snapshot().lookupServerNames(listener);
        return routes != null ? routes : now.retiredNamed().get(listener);
    }

    /**
     * Puts {@code next} in force (the caller has activated it), remembering the routes the listeners
     * at {@code removedTcp} and {@code removedUdp} had: they close after this, and what they
     * accepted until then is still routed by them.
     */
    public synchronized void switchTo(ServiceSnapshot next, Set<InetSocketAddress> removedTcp,
                                      Set<InetSocketAddress> removedUdp) {
        ServiceSnapshot before = inForce.snapshot();
        inForce = new InForce(next, retired(removedTcp, before::lookupTcp), retired(removedUdp, before::lookupUdp),
                retired(removedTcp, before::lookupServerNames));
    }

    private static <T> Map<InetSocketAddress, T> retired(Set<InetSocketAddress> removed,
                                                      Function<InetSocketAddress, @Nullable T> before) {
        Map<InetSocketAddress, T> leaving = new HashMap<>();
        for (InetSocketAddress address : removed) {
            T route = before.apply(address);
            if (route != null) {
                leaving.put(address, route);
            }
        }
        return leaving;
    }
}

package dev.l4lb.netty.tcp;

import java.net.InetSocketAddress;

import org.jspecify.annotations.Nullable;

import dev.l4lb.core.model.Protocol;
import dev.l4lb.core.table.Route;
import dev.l4lb.core.table.RoutingTable;
import dev.l4lb.core.table.ServerNameRoutes;

/**
 * What a TCP listener routes its connections by: the address it listens on, or, for the
 * transparent listener TPROXY portals deliver to, the address each connection was sent to (the
 * intercepted ClusterIP:port of a service port), so one listener serves every service.
 */
sealed interface ListenerRouting {
    /** The route for a connection accepted with local address {@code destination}; null when there is none. */
    @Nullable Route route(RoutingTable table, InetSocketAddress destination);

    /** The ports sharing the listener by TLS server name; null when it is not routed by name. */
    @Nullable ServerNameRoutes serverNames(RoutingTable table);

    /** Whether this is the transparent listener's. */
    boolean transparent();

    /** A service port's listener: its connections are routed by the listener's address. */
    record ByListener(InetSocketAddress listener) implements ListenerRouting {
        @Override
        public @Nullable Route route(RoutingTable table, InetSocketAddress destination) {
            return table.route(Protocol.TCP, listener);
        }

        @Override
        public @Nullable ServerNameRoutes serverNames(RoutingTable table) {
            return table.serverNames(listener);
        }

        @Override
        public boolean transparent() {
            return false;
        }
    }

    /** The transparent listener: each connection is routed by its original destination. */
    enum ByDestination implements ListenerRouting {
        INSTANCE;

        @Override
        public Route route(RoutingTable table, InetSocketAddress destination) {
            return table.snapshot().lookupTcp(destination);
        }

        /** Intercepted ClusterIP:ports are never routed by server name. */
        @Override
        public @Nullable ServerNameRoutes serverNames(RoutingTable table) {
            return null;
        }

        @Override
        public boolean transparent() {
            return true;
        }
    }
}

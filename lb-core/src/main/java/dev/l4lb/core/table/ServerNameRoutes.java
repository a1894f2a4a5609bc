package dev.l4lb.core.table;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.jspecify.annotations.Nullable;

import dev.l4lb.core.model.AcceptProxyProtocol;
import dev.l4lb.core.model.ServerNames;

/**
 * The ports that share one TCP listener, chosen by the server name of each client's TLS
 * ClientHello: an exact name first, then a one-label wildcard ({@code *.shop.example} serves
 * {@code a.shop.example}, not {@code shop.example} nor {@code b.a.shop.example}), then {@code *}.
 * A lookup allocates nothing: both tables hash and compare a region of the name in place.
 */
public final class ServerNameRoutes {
    private final InetSocketAddress listener;
    private final NameTable exact;
    /** Keyed by what follows {@code *.}. */
    private final NameTable wildcards;
    private final @Nullable Route any;
    private final Duration clientHelloTimeout;
    private final AcceptProxyProtocol acceptProxyProtocol;
    private final HelloRejections rejections;

    /**
     * @param routes     every route on the listener, each with its port's server names (which
     *                   must not overlap: validated config never does)
     * @param rejections the counters the listener had before this table, or new ones
     * @throws IllegalArgumentException when two routes claim one name
     */
    ServerNameRoutes(InetSocketAddress listener, List<Route> routes, HelloRejections rejections) {
        this.listener = listener;
        this.rejections = rejections;
        Map<String, Route> exactNames = new LinkedHashMap<>();
        Map<String, Route> wildcardSuffixes = new LinkedHashMap<>();
        Route anyRoute = null;
        for (Route route : routes) {
            for (String name : route.port().serverNames().names()) {
                Route clash;
                if (name.equals(ServerNames.ANY)) {
                    clash = anyRoute;
                    anyRoute = route;
                } else if (name.startsWith("*.")) {
                    clash = wildcardSuffixes.putIfAbsent(name.substring(2), route);
                } else {
                    clash = exactNames.putIfAbsent(name, route);
                }
                if (clash != null) {
                    throw new IllegalArgumentException("server name " + name + " on " + listener + " is served by both "
                            + clash.displayName() + " and " + route.displayName());
                }
            }
        }
        this.exact = new NameTable(exactNames);
        this.wildcards = new NameTable(wildcardSuffixes);
        this.any = anyRoute;
        ServerNames first = routes.get(0).port().serverNames();
        this.clientHelloTimeout = first.clientHelloTimeout();
        this.acceptProxyProtocol = routes.get(0).policy().acceptProxyProtocol();
    }

    /**
     * The route for a ClientHello that named {@code serverName} (lowercase, as TLS stacks and
     * Netty's parser give it; a trailing dot is ignored), or carried none (null); null when no
     * port takes it.
     */
    public @Nullable Route lookup(@Nullable String serverName) {
        if (serverName == null) {
            return any;
        }
        int end = serverName.length();
        if (end > 0 && serverName.charAt(end - 1) == '.') {
            end--;
        }
        Route route = exact.get(serverName, 0, end);
        if (route != null) {
            return route;
        }
        int dot = serverName.indexOf('.');
        if (dot > 0 && dot < end - 1) {
            route = wildcards.get(serverName, dot + 1, end);
            if (route != null) {
                return route;
            }
        }
        return any;
    }

    public InetSocketAddress listener() {
        return listener;
    }

    /** How long a client has to send its whole ClientHello (the ports on the listener agree on it). */
    public Duration clientHelloTimeout() {
        return clientHelloTimeout;
    }

    /** Whether, and from whom, a PROXY header comes before the ClientHello (the ports agree on it). */
    public AcceptProxyProtocol acceptProxyProtocol() {
        return acceptProxyProtocol;
    }

    /** The listener's resets before a port was chosen. */
    public HelloRejections rejections() {
        return rejections;
    }

    /**
     * An open-addressing table from names to routes whose lookup takes a region of a string, so
     * that the suffix of a name after its first label is looked up without a substring.
     */
    private static final class NameTable {
        private final @Nullable String[] keys;
        private final @Nullable Route[] values;
        private final int mask;

        NameTable(Map<String, Route> entries) {
            int capacity = Integer.highestOneBit(Math.max(4, entries.size() * 2 - 1)) << 1; // load <= 1/2
            keys = new String[capacity];
            values = new Route[capacity];
            mask = capacity - 1;
            entries.forEach((key, value) -> {
                int i = hash(key, 0, key.length()) & mask;
                while (keys[i] != null) {
                    i = (i + 1) & mask;
                }
                keys[i] = key;
                values[i] = value;
            });
        }

        @Nullable Route get(String name, int start, int end) {
            int length = end - start;
            int i = hash(name, start, end) & mask;
            String key;
            while ((key = keys[i]) != null) {
                if (key.length() == length && key.regionMatches(0, name, start, length)) {
                    return values[i];
                }
                i = (i + 1) & mask;
            }
            return null;
        }

        /** String's own hash of the region, spread so that the low bits the mask keeps depend on every char. */
        private static int hash(String s, int start, int end) {
            int h = 0;
            for (int i = start; i < end; i++) {
                h = 31 * h + s.charAt(i);
            }
            return h ^ (h >>> 16);
        }
    }
}

package dev.l4lb.core.limits;

import java.net.InetAddress;

import org.jspecify.annotations.Nullable;

/**
 * The bounded table of a port's clients: per client (an IPv4 address, or an IPv6 address masked
 * to the port's prefix) its open connections and its rate bucket. A client with a connection open
 * is never evicted, so its count is never lost; safe to call from any number of event loops.
 */
public interface ClientTable {

    /**
     * Admits a new connection of {@code client} at {@code nowNanos}: null when admitted, holding
     * one of the client's slots until {@link #release}; otherwise why not.
     */
    @Nullable ClientRefusal admit(InetAddress client, long nowNanos);

    /** Gives back the slot an {@link #admit} of the same client took. */
    void release(InetAddress client);

    /** Clients tracked now. */
    int size();

    /** Clients evicted so far to make room for new ones. */
    long evictions();
}

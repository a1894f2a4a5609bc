package dev.l4lb.core.limits;

import org.jspecify.annotations.Nullable;

/**
 * The bounded table of a port's clients: per client (an IPv4 address, or an IPv6 address masked
 * to the port's prefix) its open connections and its rate bucket. A client with a connection open
 * is never evicted, so its count is never lost; safe to call from any number of event loops.
 */
public interface ClientTable {

    /**
     * Admits a new connection of the client with this {@link ClientKey key} at {@code nowNanos}:
     * null when admitted, holding one of the client's slots until {@link #release}; otherwise why not.
     */
    @Nullable ClientRefusal admit(long keyHigh, long keyLow, long nowNanos);

    /** Gives back the slot an {@link #admit} of the same key took. */
    void release(long keyHigh, long keyLow);

    /** Clients tracked now. */
    int size();

    /** Clients evicted so far to make room for new ones. */
    long evictions();
}

package dev.l4lb.core.limits;

import java.net.InetAddress;

import org.jspecify.annotations.Nullable;

import dev.l4lb.core.model.ClientLimits;

/**
 * A port's limits on new connections, live: the port's rate, then the client's open connections
 * and its rate. Belongs to the port's route and is carried over reloads while the port's limits
 * stay the same, so that a reload neither forgets who holds what nor refills every bucket.
 */
public final class PortLimiter {
    private final ClientLimits limits;
    private final @Nullable PortRate portRate;
    private final @Nullable ClientTable clients;

    /** The limiter for {@code limits}, its buckets full now. */
    public PortLimiter(ClientLimits limits) {
        this.limits = limits;
        long now = System.nanoTime();
        this.portRate = limits.connectionRate() == null ? null : new PortRate(limits.connectionRate(), now);
        this.clients = limits.perClient() ? new StripedClientTable(limits) : null;
    }

    /** True when this limiter enforces exactly {@code limits}: the one to keep across a reload. */
    public boolean fits(ClientLimits limits) {
        return this.limits.equals(limits);
    }

    public ClientLimits limits() {
        return limits;
    }

    /** True when it limits anything; when not, admitting costs nothing. */
    public boolean active() {
        return portRate != null || clients != null;
    }

    /**
     * Admits a new connection of {@code client}: null when admitted, holding one of the client's
     * slots until {@link #release}; otherwise why not. A port token taken for a connection the
     * client's own limits then refuse is not given back: the port's rate counts attempts.
     */
    public @Nullable ClientRefusal admit(InetAddress client, long nowNanos) {
        if (portRate != null && !portRate.tryAcquire(nowNanos)) {
            return ClientRefusal.PORT_RATE;
        }
        return clients == null ? null : clients.admit(client, nowNanos);
    }

    /** Gives back the slot an {@link #admit} that returned null took. */
    public void release(InetAddress client) {
        if (clients != null) {
            clients.release(client);
        }
    }

    /** Clients tracked now. */
    public int clients() {
        return clients == null ? 0 : clients.size();
    }

    /** Clients evicted so far to make room for new ones. */
    public long evictions() {
        return clients == null ? 0 : clients.evictions();
    }
}

package dev.l4lb.core.limits;

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
    private final ClientKey key;

    /** The limiter for {@code limits}, its buckets full now. */
    public PortLimiter(ClientLimits limits) {
        this.limits = limits;
        long now = System.nanoTime();
        this.portRate = limits.connectionRate() == null ? null : new PortRate(limits.connectionRate(), now);
        this.clients = limits.perClient() ? new StripedClientTable(limits) : null;
        this.key = new ClientKey(limits.clientPrefixV6());
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

    /** True when it tracks clients: the caller takes the client's {@link #key} for {@link #admit} and {@link #release}. */
    public boolean tracksClients() {
        return clients != null;
    }

    /** How a client address becomes its key under this port's IPv6 prefix. */
    public ClientKey key() {
        return key;
    }

    /**
     * Admits a new connection of the client with this key (ignored when it {@link #tracksClients
     * tracks no clients}): null when admitted, holding one of the client's slots until
     * {@link #release}; otherwise why not. A port token taken for a connection the client's own
     * limits then refuse is given back: the port's rate counts connections let in, so a client
     * over its own limits (on UDP, one sending datagram after datagram) does not spend the port's
     * rate for everyone else.
     */
    public @Nullable ClientRefusal admit(long keyHigh, long keyLow, long nowNanos) {
        if (portRate != null && !portRate.tryAcquire(nowNanos)) {
            return ClientRefusal.PORT_RATE;
        }
        ClientRefusal refused = clients == null ? null : clients.admit(keyHigh, keyLow, nowNanos);
        if (refused != null && portRate != null) {
            portRate.giveBack();
        }
        return refused;
    }

    /** Gives back the slot an {@link #admit} of this key that returned null took. */
    public void release(long keyHigh, long keyLow) {
        if (clients != null) {
            clients.release(keyHigh, keyLow);
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

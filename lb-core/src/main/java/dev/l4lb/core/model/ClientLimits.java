package dev.l4lb.core.model;

import org.jspecify.annotations.Nullable;

/**
 * A port's limits on new connections per client and on the port's own rate, stick-table style:
 * clients are tracked in a bounded table, least recently seen evicted first.
 *
 * @param maxConnectionsPerClient concurrent connections (UDP: sessions) per client; 0 is unlimited
 * @param connectionRatePerClient new connections per client; null is unlimited
 * @param connectionRate          new connections on the port, all clients together; null is unlimited
 * @param clientTableSize         clients tracked at once
 * @param clientPrefixV6          IPv6 clients are counted per prefix of this length: one host
 *                                commonly holds a whole /64 and could otherwise take a new address
 *                                per connection
 */
public record ClientLimits(int maxConnectionsPerClient, @Nullable Rate connectionRatePerClient,
                           @Nullable Rate connectionRate, int clientTableSize, int clientPrefixV6) {

    public static final int DEFAULT_CLIENT_TABLE_SIZE = 1_000_000;
    /** 2^26 clients: about 3 GiB of table; more is a typo, not a plan. */
    public static final int MAX_CLIENT_TABLE_SIZE = 1 << 26;
    public static final int DEFAULT_CLIENT_PREFIX_V6 = 64;
    /** No limits: nothing is tracked. */
    public static final ClientLimits NONE = new ClientLimits(0, null, null, DEFAULT_CLIENT_TABLE_SIZE, DEFAULT_CLIENT_PREFIX_V6);

    public ClientLimits {
        if (maxConnectionsPerClient < 0) {
            throw new IllegalArgumentException("maxConnectionsPerClient must be >= 0");
        }
        if (clientTableSize < 1 || clientTableSize > MAX_CLIENT_TABLE_SIZE) {
            throw new IllegalArgumentException("clientTableSize out of 1.." + MAX_CLIENT_TABLE_SIZE);
        }
        if (clientPrefixV6 < 1 || clientPrefixV6 > 128) {
            throw new IllegalArgumentException("clientPrefixV6 out of 1..128");
        }
    }

    /** True when clients must be tracked: a per-client limit is set. */
    public boolean perClient() {
        return maxConnectionsPerClient > 0 || connectionRatePerClient != null;
    }

    /** True when any limit is set. */
    public boolean any() {
        return perClient() || connectionRate != null;
    }
}

package dev.l4lb.core.limits;

/** Why a limit refused a new connection. */
public enum ClientRefusal {
    /** The port's connectionRate is spent. */
    PORT_RATE,
    /** The client has maxConnectionsPerClient open. */
    CLIENT_CONNECTIONS,
    /** The client's connectionRatePerClient is spent. */
    CLIENT_RATE,
    /**
     * The client is new and every client the table holds has a connection open: none can be
     * evicted without losing its count, so the new one is refused rather than let in uncounted.
     */
    CLIENT_TABLE_FULL
}

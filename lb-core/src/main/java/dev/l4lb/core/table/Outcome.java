package dev.l4lb.core.table;

import java.util.Locale;

/** How a connection (or, on a UDP port, a session) to a service port ended, for counting. */
public enum Outcome {
    /** Relayed to an endpoint. */
    OK,
    /** Every endpoint tried refused or timed out. */
    CONNECT_FAILED,
    /** The port had no endpoint that could take a new connection. */
    NO_ENDPOINT,
    /** The port was at its maxConnections. */
    REFUSED_LIMIT,
    /** The port's connectionRate was spent. */
    REFUSED_PORT_RATE,
    /** The client had maxConnectionsPerClient open. */
    REFUSED_CLIENT_CONNECTIONS,
    /** The client's connectionRatePerClient was spent. */
    REFUSED_CLIENT_RATE,
    /** A new client, and every client the port's table holds had a connection open. */
    REFUSED_CLIENT_TABLE_FULL,
    /** The client address is outside the port's sourceRanges. */
    DENIED_SOURCE,
    /** The port accepts PROXY headers and the peer is not one of its trusted upstreams. */
    UNTRUSTED_UPSTREAM,
    /** A trusted upstream's PROXY header was malformed, incomplete, or late (acceptProxyProtocolTimeout). */
    BAD_PROXY_HEADER,
    /** The client reset the connection while it waited to be accepted: no endpoint was connected for it. */
    CLIENT_RESET,
    /** A relayed connection (already counted as OK) closed after idleTimeout without traffic. */
    IDLE_TIMEOUT,
    /** A UDP session (already counted as OK) whose endpoint answered ICMP port unreachable. */
    UNREACHABLE;

    /** True for the outcomes that turn a client away before any endpoint is tried, by a rule of the port. */
    public boolean refusal() {
        return switch (this) {
            case NO_ENDPOINT, REFUSED_LIMIT, REFUSED_PORT_RATE, REFUSED_CLIENT_CONNECTIONS, REFUSED_CLIENT_RATE,
                 REFUSED_CLIENT_TABLE_FULL, DENIED_SOURCE, UNTRUSTED_UPSTREAM, BAD_PROXY_HEADER -> true;
            case OK, CONNECT_FAILED, CLIENT_RESET, IDLE_TIMEOUT, UNREACHABLE -> false;
        };
    }

    /** The name metrics, the API and the connection log use: {@code connect_failed}. */
    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }
}

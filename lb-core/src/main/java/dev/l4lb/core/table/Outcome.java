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

    /** The name metrics, the API and the connection log use: {@code connect_failed}. */
    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }
}

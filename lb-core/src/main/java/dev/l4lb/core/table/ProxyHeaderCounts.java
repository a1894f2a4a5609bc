package dev.l4lb.core.table;

/**
 * Where a connection closed for its PROXY header is counted: the port's counters, or, on a
 * listener routed by TLS server name, whose header comes before the ClientHello that picks the
 * port, the listener's.
 */
public interface ProxyHeaderCounts {
    /** A trusted upstream's connection was closed: its header was rejected for {@code why}. */
    void headerRejected(HeaderRejection why);
}

package dev.l4lb.core.table;

/** Why a connection to a listener routed by TLS server name was reset before any port took it. */
public enum HelloRejection {
    /** The first bytes were not a TLS handshake record carrying a ClientHello. */
    NOT_TLS("not_tls"),
    /** The ClientHello was longer than the balancer buffers. */
    TOO_LARGE("too_large"),
    /** The whole ClientHello did not arrive within the clientHelloTimeout. */
    TIMEOUT("timeout"),
    /** The client ended its side of the connection before its whole ClientHello. */
    TRUNCATED("truncated"),
    /** No port serves the name (or the absence of one) and none lists {@code *}. */
    NO_MATCH("no_match"),
    /** The ports accept PROXY headers and the peer is not one of their trusted upstreams. */
    UNTRUSTED_UPSTREAM("untrusted_upstream"),
    /** A trusted upstream's PROXY header, before the ClientHello, was malformed, incomplete or late. */
    BAD_PROXY_HEADER("bad_proxy_header");

    private final String label;

    HelloRejection(String label) {
        this.label = label;
    }

    /** The metric label and connection-log outcome. */
    public String label() {
        return label;
    }
}

package dev.l4lb.core.table;

import java.util.Locale;

/**
 * Why a trusted upstream's connection was closed before its PROXY header was whole and usable
 * (each is also a {@link Outcome#BAD_PROXY_HEADER} connection), for counting.
 */
public enum HeaderRejection {
    /** Not a PROXY header: a bad signature, version, command, family, length, address or TLV. */
    MALFORMED,
    /** The upstream ended or reset the connection before the header was whole. */
    TRUNCATED,
    /** The header was not whole within acceptProxyProtocolTimeout. */
    TIMEOUT,
    /** A well-formed header this port cannot serve: a datagram (UDP) client on a TCP port. */
    UNSUPPORTED;

    /** The name metrics and the API use: {@code malformed}. */
    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }
}

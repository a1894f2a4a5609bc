package dev.l4lb.core.table;

import java.util.Locale;

/** Why a UDP port dropped a datagram, for counting. */
public enum DatagramDrop {
    /** From a client the port refused a session (the outcomes say why: no endpoint, table full, source). */
    REFUSED,
    /** For a session whose endpoint had just answered ICMP port unreachable. */
    UNREACHABLE,
    /** A socket could not take more: a new session's socket still opening, or a full send buffer. */
    BACKLOG;

    /** The name metrics and the API use: {@code backlog}. */
    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }
}

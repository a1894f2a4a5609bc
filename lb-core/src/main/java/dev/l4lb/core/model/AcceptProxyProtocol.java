package dev.l4lb.core.model;

import java.net.InetAddress;
import java.time.Duration;
import java.util.List;
import java.util.Objects;

/**
 * Whether a port reads a PROXY header (v1 or v2, detected) from its clients, and from whom: a
 * balancer behind another balancer learns the real client from the header. Only connections from
 * a trusted upstream may carry one; any other connection is refused, so a client cannot name its
 * own address.
 *
 * @param trustedUpstreams peers allowed to connect, each presenting a header; empty means headers
 *                         are not accepted at all
 * @param headerTimeout    how long a trusted peer may take to send its whole header
 */
public record AcceptProxyProtocol(List<Cidr> trustedUpstreams, Duration headerTimeout) {
    /** HAProxy's and nginx's practice is seconds, not minutes: a healthy upstream sends it at once. */
    public static final Duration DEFAULT_HEADER_TIMEOUT = Duration.ofSeconds(3);
    public static final AcceptProxyProtocol OFF = new AcceptProxyProtocol(List.of(), DEFAULT_HEADER_TIMEOUT);

    public AcceptProxyProtocol {
        trustedUpstreams = List.copyOf(trustedUpstreams);
        Objects.requireNonNull(headerTimeout, "headerTimeout");
        if (headerTimeout.isNegative() || headerTimeout.isZero()) {
            throw new IllegalArgumentException("headerTimeout must be positive");
        }
    }

    /** True when connections on this port must start with a PROXY header. */
    public boolean enabled() {
        return !trustedUpstreams.isEmpty();
    }

    /** True when this peer may connect and speak for a client. */
    public boolean trusts(InetAddress peer) {
        return Cidr.anyContains(trustedUpstreams, peer);
    }
}

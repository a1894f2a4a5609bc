package dev.l4lb.core.model;

import java.time.Duration;
import java.util.List;
import java.util.Objects;

/**
 * The TLS server names a TCP port serves when it shares its listener with other ports and the
 * name in each client's ClientHello (SNI) picks the port: TLS passthrough, never decrypted.
 *
 * @param names              lowercase DNS names without a trailing dot, one-label wildcards
 *                           ({@code *.shop.example}) and {@value #ANY} (no SNI, or no other match);
 *                           empty when the port is not routed by name
 * @param clientHelloTimeout how long a client has to send its whole ClientHello
 */
public record ServerNames(List<String> names, Duration clientHelloTimeout) {
    /** The name that takes connections with no SNI, or a name no port lists. */
    public static final String ANY = "*";
    public static final Duration DEFAULT_CLIENT_HELLO_TIMEOUT = Duration.ofSeconds(5);
    /** Not routed by name. */
    public static final ServerNames NONE = new ServerNames(List.of(), DEFAULT_CLIENT_HELLO_TIMEOUT);

    public ServerNames {
        names = List.copyOf(names);
        Objects.requireNonNull(clientHelloTimeout, "clientHelloTimeout");
        if (clientHelloTimeout.isNegative() || clientHelloTimeout.isZero()) {
            throw new IllegalArgumentException("clientHelloTimeout must be positive");
        }
    }

    /** Whether the port's connections are routed by the name in their ClientHello. */
    public boolean routed() {
        return !names.isEmpty();
    }
}

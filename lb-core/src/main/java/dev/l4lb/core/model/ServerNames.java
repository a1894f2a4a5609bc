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

    /**
     * Whether {@code name}, as a client's ClientHello carried it, could be a DNS name: 1 to 253
     * characters of lowercase letters, digits, {@code -}, {@code _} and {@code .}. A client writes
     * what it likes there (up to the hello's 16 KiB, newlines included), so only such a name is
     * repeated in the connection log; checked without allocating.
     */
    public static boolean plausible(String name) {
        int length = name.length();
        if (length == 0 || length > 253) {
            return false;
        }
        for (int i = 0; i < length; i++) {
            char c = name.charAt(i);
            if (!(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_')) {
                return false;
            }
        }
        return true;
    }

    /** Whether the port's connections are routed by the name in their ClientHello. */
    public boolean routed() {
        return !names.isEmpty();
    }
}

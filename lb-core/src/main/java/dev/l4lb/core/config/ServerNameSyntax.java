package dev.l4lb.core.config;

import java.util.Locale;
import java.util.regex.Pattern;

import org.jspecify.annotations.Nullable;

import dev.l4lb.core.model.ServerNames;

/** The server names a config may list: DNS names, one-label wildcards of them, and {@code *}. */
final class ServerNameSyntax {
    private static final Pattern LABEL = Pattern.compile("[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?");
    /** RFC 1035's limit on a name's text form, without the trailing dot. */
    private static final int MAX_LENGTH = 253;

    private ServerNameSyntax() {
    }

    /**
     * {@code name} as it is matched (names compare case-insensitively, so lowercase; a trailing dot
     * dropped, as SNI carries none), or null when it is not a server name.
     */
    static @Nullable String normalize(String name) {
        String n = name.toLowerCase(Locale.ROOT);
        if (n.equals(ServerNames.ANY)) {
            return n;
        }
        if (n.endsWith(".")) {
            n = n.substring(0, n.length() - 1);
        }
        String dns = n.startsWith("*.") ? n.substring(2) : n;
        return isDnsName(dns) && n.length() <= MAX_LENGTH ? n : null;
    }

    private static boolean isDnsName(String name) {
        if (name.isEmpty()) {
            return false;
        }
        for (String label : name.split("\\.", -1)) {
            if (!LABEL.matcher(label).matches()) {
                return false;
            }
        }
        return true;
    }
}

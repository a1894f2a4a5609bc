package dev.l4lb.core.model;

import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.util.Optional;

import org.jspecify.annotations.Nullable;

/**
 * Parses and prints IP literals and {@code address:port} pairs without ever asking DNS:
 * a config names addresses, and a typo must be an error, not a lookup.
 */
public final class Addresses {
    private Addresses() {
    }

    /** An IPv4 dotted quad or an IPv6 literal (without brackets); empty for anything else. */
    public static Optional<InetAddress> parseIp(@Nullable String text) {
        if (text == null || text.isEmpty()) {
            return Optional.empty();
        }
        if (text.indexOf(':') >= 0) {
            return parseIpv6(text);
        }
        return parseIpv4(text);
    }

    /**
     * {@code 1.2.3.4:80} or {@code [::1]:80}; empty when the text is not exactly that.
     * The port must be 0..65535 (callers decide whether 0 is allowed).
     */
    public static Optional<InetSocketAddress> parseHostPort(@Nullable String text) {
        if (text == null) {
            return Optional.empty();
        }
        String host;
        String port;
        if (text.startsWith("[")) {
            int close = text.indexOf(']');
            if (close < 0 || close + 1 >= text.length() || text.charAt(close + 1) != ':') {
                return Optional.empty();
            }
            host = text.substring(1, close);
            port = text.substring(close + 2);
            if (host.indexOf(':') < 0) {
                return Optional.empty();
            }
        } else {
            int colon = text.lastIndexOf(':');
            if (colon < 0 || text.indexOf(':') != colon) {
                return Optional.empty(); // IPv6 needs brackets, so the port is unambiguous
            }
            host = text.substring(0, colon);
            port = text.substring(colon + 1);
        }
        Optional<InetAddress> address = parseIp(host);
        int portNumber = parsePort(port);
        if (address.isEmpty() || portNumber < 0) {
            return Optional.empty();
        }
        return Optional.of(new InetSocketAddress(address.get(), portNumber));
    }

    /** 0..65535, or -1 when the text is not a port number. */
    public static int parsePort(String text) {
        if (text.isEmpty() || text.length() > 5) {
            return -1;
        }
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c < '0' || c > '9') {
                return -1; // ASCII only: Character.isDigit (and parseInt) would take other scripts' digits
            }
        }
        int port = Integer.parseInt(text);
        return port <= 65535 ? port : -1;
    }

    /** The form users write: {@code 1.2.3.4:80}, {@code [::1]:80}. */
    public static String format(InetSocketAddress address) {
        return format(address.getAddress()) + ":" + address.getPort();
    }

    private static String format(InetAddress address) {
        return address instanceof Inet6Address ? "[" + formatIp(address) + "]" : formatIp(address);
    }

    /**
     * The bare IP as users write it in a CIDR or an endpoint list: {@code 10.0.0.1}, or IPv6 in
     * RFC 5952's canonical text ({@code ::1}, {@code fd00::1}), never with a zone.
     */
    public static String formatIp(InetAddress address) {
        if (!(address instanceof Inet6Address)) {
            return address.getHostAddress();
        }
        byte[] b = address.getAddress();
        int[] groups = new int[8];
        for (int i = 0; i < 8; i++) {
            groups[i] = ((b[2 * i] & 0xFF) << 8) | (b[2 * i + 1] & 0xFF);
        }
        // The longest run of two or more zero groups (the first, on a tie) becomes "::".
        int bestStart = -1;
        int bestLength = 1;
        for (int i = 0; i < 8; ) {
            if (groups[i] != 0) {
                i++;
                continue;
            }
            int start = i;
            while (i < 8 && groups[i] == 0) {
                i++;
            }
            if (i - start > bestLength) {
                bestStart = start;
                bestLength = i - start;
            }
        }
        StringBuilder text = new StringBuilder(39);
        for (int i = 0; i < 8; i++) {
            if (i == bestStart) {
                text.append("::");
                i += bestLength - 1;
                continue;
            }
            if (text.length() > 0 && text.charAt(text.length() - 1) != ':') {
                text.append(':');
            }
            text.append(Integer.toHexString(groups[i]));
        }
        return text.toString();
    }

    private static Optional<InetAddress> parseIpv4(String text) {
        String[] parts = text.split("\\.", -1);
        if (parts.length != 4) {
            return Optional.empty();
        }
        byte[] bytes = new byte[4];
        for (int i = 0; i < 4; i++) {
            String part = parts[i];
            if (part.isEmpty() || part.length() > 3 || (part.length() > 1 && part.charAt(0) == '0')) {
                return Optional.empty(); // leading zeros read as octal by some tools: refuse the ambiguity
            }
            int value = 0;
            for (int j = 0; j < part.length(); j++) {
                char c = part.charAt(j);
                if (c < '0' || c > '9') {
                    return Optional.empty();
                }
                value = value * 10 + (c - '0');
            }
            if (value > 255) {
                return Optional.empty();
            }
            bytes[i] = (byte) value;
        }
        return Optional.of(byAddress(bytes));
    }

    private static Optional<InetAddress> parseIpv6(String text) {
        if (text.charAt(0) == '.') {
            return Optional.empty(); // the JDK reads a literal only from a hex digit or ':'; it would resolve this
        }
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            boolean ok = c == ':' || c == '.' || Character.digit(c, 16) >= 0;
            if (!ok) {
                return Optional.empty(); // also refuses zone ids and anything a resolver might look up
            }
        }
        try {
            // Starting with a hex digit or ':' and with a ':' in it, the JDK parses the text as an IPv6
            // literal and never resolves it.
            InetAddress address = InetAddress.getByName(text);
            if (address instanceof Inet6Address || address instanceof Inet4Address) {
                return Optional.of(address);
            }
            return Optional.empty();
        } catch (UnknownHostException e) {
            return Optional.empty();
        }
    }

    private static InetAddress byAddress(byte[] bytes) {
        try {
            return InetAddress.getByAddress(bytes);
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException(e); // only thrown for a wrong length, which cannot happen here
        }
    }
}

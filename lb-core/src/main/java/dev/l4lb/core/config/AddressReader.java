package dev.l4lb.core.config;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.Optional;

import org.jspecify.annotations.Nullable;

import dev.l4lb.core.model.Addresses;

/**
 * Reads the {@code address:port} text of a config into socket addresses; what is wrong with one
 * is a problem at its path. Host names are not resolved: a config means the same on every read.
 */
final class AddressReader {
    private final Problems problems;

    AddressReader(Problems problems) {
        this.problems = problems;
    }

    /**
     * Parses {@code address:port}; with {@code portOptional}, a bare address takes
     * {@code defaultPort} (a port's targetPort) when that is set.
     */
    @Nullable InetSocketAddress hostPort(String text, String path, boolean portOptional, int defaultPort) {
        return hostPort(text, path, portOptional, defaultPort, false);
    }

    /** As above; with {@code zeroAllowed}, port 0 (the kernel picks one) is accepted too. */
    @Nullable InetSocketAddress hostPort(String text, String path, boolean portOptional, int defaultPort, boolean zeroAllowed) {
        String host;
        String port;
        if (text.startsWith("[")) {
            int close = text.indexOf(']');
            if (close < 0) {
                problems.add(path, "'" + text + "' has '[' without ']'");
                return null;
            }
            host = text.substring(1, close);
            if (host.indexOf(':') < 0) {
                problems.add(path, "'" + text + "': brackets are for IPv6 addresses only");
                return null;
            }
            String rest = text.substring(close + 1);
            if (rest.isEmpty()) {
                port = null;
            } else if (rest.startsWith(":")) {
                port = rest.substring(1);
            } else {
                problems.add(path, "'" + text + "' is not \"[address]:port\"");
                return null;
            }
        } else if (text.chars().filter(c -> c == ':').count() > 1) {
            problems.add(path, "'" + text + "' looks like an IPv6 address: write it as \"[" + text + "]\" with the port after");
            return null;
        } else {
            int colon = text.indexOf(':');
            host = colon < 0 ? text : text.substring(0, colon);
            port = colon < 0 ? null : text.substring(colon + 1);
        }
        Optional<InetAddress> ip = Addresses.parseIp(host);
        if (ip.isEmpty()) {
            problems.add(path, "bad address '" + host + "' in '" + text + "': not an IPv4 or IPv6 address (host names are not resolved)");
            return null;
        }
        int portNumber = port(text, port, path, portOptional, defaultPort, zeroAllowed);
        return portNumber < 0 ? null : new InetSocketAddress(ip.get(), portNumber);
    }

    /** The port of {@code text}, or -1 (and a problem) when it has none it may have or one out of range. */
    private int port(String text, @Nullable String port, String path, boolean portOptional, int defaultPort, boolean zeroAllowed) {
        if (port == null) {
            if (portOptional && defaultPort > 0) {
                return defaultPort;
            } else if (portOptional) {
                problems.add(path, "'" + text + "' has no port, and the port entry has no targetPort");
            } else {
                problems.add(path, "'" + text + "' has no port: write \"address:port\"");
            }
            return -1;
        }
        int portNumber = Addresses.parsePort(port);
        if (portNumber < 0 || portNumber == 0 && !zeroAllowed) {
            problems.add(path, "port '" + port + "' in '" + text + "' is out of range " + (zeroAllowed ? "0" : "1") + "..65535");
            return -1;
        }
        return portNumber;
    }

    /** The address, or null (and a problem) when no connection can be made to it. */
    @Nullable InetSocketAddress connectable(@Nullable InetSocketAddress address, String path) {
        if (address == null) {
            return null;
        }
        InetAddress ip = address.getAddress();
        String why = ip.isAnyLocalAddress() ? "a wildcard address"
                : ip.isMulticastAddress() ? "a multicast address"
                : Addresses.formatIp(ip).equals("255.255.255.255") ? "the broadcast address" : null;
        if (why != null) {
            problems.add(path, "cannot connect to " + Addresses.format(address) + ": it is " + why);
            return null;
        }
        return address;
    }

    static String stripBrackets(String text) {
        return text.startsWith("[") && text.endsWith("]") ? text.substring(1, text.length() - 1) : text;
    }
}

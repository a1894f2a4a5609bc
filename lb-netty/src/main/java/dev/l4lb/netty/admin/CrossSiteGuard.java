package dev.l4lb.netty.admin;

import java.net.URI;
import java.net.URISyntaxException;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;

import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;

import dev.l4lb.core.model.Addresses;

/**
 * Keeps web pages from changing the balancer through a browser that can reach the admin address
 * (the admin's own machine, usually). A page on another site may send a "simple" cross-origin
 * POST without asking the server first, and a page served from a name that is rebound to
 * 127.0.0.1 (DNS rebinding) counts as the admin's own origin to the browser. So a request that
 * changes state must be one no page can send unasked: {@code Content-Type: application/json},
 * which makes a browser ask first (a CORS preflight this server never grants), and, when it carries
 * an {@code Origin}, one naming the admin itself by an IP literal or {@code localhost} and the
 * port the request came in on, which a rebound name is not. curl and scripts send no Origin.
 */
final class CrossSiteGuard {
    /** Why a request is refused: the status and a line that says what to send instead. */
    record Refusal(HttpResponseStatus status, String message) {
    }

    private CrossSiteGuard() {
    }

    /** Empty when {@code request}, which arrived on {@code localPort}, may change state. */
    static Optional<Refusal> refusal(HttpRequest request, int localPort) {
        String origin = request.headers().get(HttpHeaderNames.ORIGIN);
        if (origin != null && !isOwnOrigin(origin, localPort)) {
            return Optional.of(new Refusal(HttpResponseStatus.FORBIDDEN, "forbidden: a page from " + origin
                    + " may not change this balancer; send the request without an Origin (curl does), or from http://"
                    + "127.0.0.1:" + localPort));
        }
        CharSequence mimeType = HttpUtil.getMimeType(request);
        if (mimeType == null || !mimeType.toString().toLowerCase(Locale.ROOT).equals("application/json")) {
            return Optional.of(new Refusal(HttpResponseStatus.UNSUPPORTED_MEDIA_TYPE,
                    "this request needs the header Content-Type: application/json (a web page on another site"
                            + " cannot send that unasked), e.g. curl -X POST -H 'Content-Type: application/json' ..."));
        }
        return Optional.empty();
    }

    /**
     * Empty when {@code request} names this server in its {@code Host} as only the admin itself
     * can be named: an IP literal, {@code localhost}, or one of {@code allowedHosts}, any port.
     * A page on a DNS name its author rebinds to 127.0.0.1 is the browser's same origin, so it
     * could read what the admin answers (every endpoint, the config's path); its requests still
     * carry that name in {@code Host}. A request with no Host (HTTP/1.0) is no browser's.
     */
    static Optional<Refusal> foreignHost(HttpRequest request, Set<String> allowedHosts) {
        String host = request.headers().get(HttpHeaderNames.HOST);
        if (host == null) {
            return Optional.empty();
        }
        String name = hostOf(host.strip());
        if (name != null && (namesThisMachine(name) || allowedHosts.contains(name))) {
            return Optional.empty();
        }
        return Optional.of(new Refusal(HttpResponseStatus.FORBIDDEN, "forbidden: this admin server answers to its IP"
                + " addresses and localhost, not to the name in Host: " + host + " (list the name in admin.allowedHosts"
                + " to allow it)"));
    }

    /** The name or address of a Host header's value, lower case and without port or brackets; null when malformed. */
    private static String hostOf(String host) {
        String name;
        if (host.startsWith("[")) {
            int end = host.indexOf(']');
            if (end < 0) {
                return null;
            }
            name = host.substring(1, end);
        } else {
            int colon = host.indexOf(':');
            name = colon < 0 ? host : host.substring(0, colon);
        }
        if (name.endsWith(".")) {
            name = name.substring(0, name.length() - 1); // the root's dot: the same name
        }
        return name.toLowerCase(Locale.ROOT);
    }

    /** {@code http://} and an IP literal or localhost with this port: nothing a DNS name could rebind. */
    private static boolean isOwnOrigin(String origin, int localPort) {
        URI uri;
        try {
            uri = new URI(origin);
        } catch (URISyntaxException e) {
            return false;
        }
        // "null" (what sandboxed frames and file: pages send) parses, without a host.
        String host = uri.getHost();
        if (!"http".equalsIgnoreCase(uri.getScheme()) || host == null) {
            return false;
        }
        int port = uri.getPort() == -1 ? 80 : uri.getPort();
        if (port != localPort) {
            return false;
        }
        String bare = host.startsWith("[") && host.endsWith("]") ? host.substring(1, host.length() - 1) : host;
        return namesThisMachine(bare.toLowerCase(Locale.ROOT));
    }

    /** {@code localhost} or an IP literal (lower case, no brackets): names no DNS rebinding can take over. */
    private static boolean namesThisMachine(String name) {
        return name.equals("localhost") || Addresses.parseIp(name).isPresent();
    }
}

package dev.l4lb.netty.cli;

import java.math.BigDecimal;
import java.time.DateTimeException;
import java.time.Instant;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.Locale;

import tools.jackson.databind.JsonNode;

/**
 * Renders the admin API's {@code GET /api/v1/services} document as {@code ipvsadm -Ln} would print it,
 * so that people who know IPVS read the balancer's table at a glance.
 *
 * <p>The widths, headers and number abbreviations are ipvsadm's own (ipvsadm.c: {@code print_title},
 * {@code print_service_entry}, {@code print_largenum}), down to the padding of the last column, which
 * leaves trailing spaces as ipvsadm does; scripts that split ipvsadm's lines on blanks split these the same.
 * Where our data differs from the kernel's the columns follow the data, not IPVS:
 * <ul>
 *   <li>Forward is how we reach the endpoint: {@code Proxy} (a plain userspace relay), {@code PPv1} or
 *       {@code PPv2} (a relay that sends a PROXY header first), in place of Masq, Route, Tunnel or Local.</li>
 *   <li>{@code persistent N} stands for sessionAffinity ClientIP with its timeout.</li>
 *   <li>{@code limits 100/client 50/s/client 5000/s}: the port's per-client limits and its rate, where it has any.</li>
 *   <li>An endpoint that takes no new connections (down, drained or terminating) shows weight 0, as
 *       kube-proxy's IPVS mode sets it; the configured weight is in the API and on the stats page.</li>
 *   <li>ActiveConn counts connections established to the endpoint; InActConn counts connects still in
 *       progress (a relay keeps no TIME_WAIT or FIN_WAIT entries, most of what IPVS counts there).</li>
 *   <li>{@code --stats} has no packet columns (a userspace relay never sees packets): Conns InBytes OutBytes.
 *       {@code --rate} likewise: CPS InBPS OutBPS, rounded to whole numbers per second as IPVS rates are.</li>
 *   <li>The first line names l4lb, its version and transport where ipvsadm names the IPVS version.</li>
 *   <li>Health, where a port has a check or outlier detection: the service line's flags name them
 *       ({@code check tcp 2s}, {@code outlier}) and say {@code FAILING OPEN} while every endpoint is
 *       out and the port routes as if all were up; a Health column after InActConn says {@code up},
 *       {@code down (reason)} or {@code ejected until 12:03:04 (reason)}, in the local time of the
 *       terminal. A listing without health anywhere is ipvsadm's, column for column.</li>
 *   <li>Services and endpoints come in the API's order; ipvsadm sorts them, but the API's order is the
 *       config's, which is the order people wrote and look for.</li>
 * </ul>
 *
 * <p>A Kubernetes port may listen on several addresses (IPv4 and IPv6, or several IPs), where IPVS would have
 * one virtual service per address. Its counters are kept per port, not per address, so it is one block here:
 * the first address on the service line, each further address alone on a line right under it, indented to the
 * address column. Such a line has neither a protocol nor {@code ->}, so neither a reader nor a script that picks
 * service lines by protocol and endpoint lines by arrow takes it for a second service or an endpoint, and no
 * counter is shown twice.
 */
final class IpvsListing {
    /** Which of ipvsadm's listings to print. */
    enum Layout {
        /** {@code ipvsadm -Ln}: scheduler, persistence, forward method, weight and connections now. */
        CONNECTIONS,
        /** {@code ipvsadm -Ln --stats}: totals since start. */
        STATS,
        /** {@code ipvsadm -Ln --rate}: per-second rates. */
        RATE
    }

    /** "Prot" and a blank: where the address starts on a service line, and so on its continuation lines. */
    private static final String ADDRESS_INDENT = " ".repeat(5);
    private static final DateTimeFormatter CLOCK = DateTimeFormatter.ofPattern("HH:mm:ss", Locale.ROOT);

    private IpvsListing() {
    }

    /**
     * The listing of {@code api} (the whole {@code /api/v1/services} document), lines ending in {@code \n};
     * {@code exact} prints numbers in full instead of abbreviating them with K, M, G or T.
     */
    static String render(JsonNode api, Layout layout, boolean exact) {
        return render(api, layout, exact, ZoneId.systemDefault());
    }

    /** {@link #render(JsonNode, Layout, boolean)} with the times of day in {@code zone}. */
    static String render(JsonNode api, Layout layout, boolean exact, ZoneId zone) {
        StringBuilder out = new StringBuilder();
        out.append("l4lb ").append(text(api.path("version"), "unknown"))
                .append(" userspace proxy (transport ").append(text(api.path("transport"), "unknown")).append(")\n");
        boolean health = layout == Layout.CONNECTIONS && anyHealth(api);
        out.append(title(layout, health));
        for (JsonNode service : api.path("services")) {
            appendService(out, service, layout, exact, health ? zone : null);
        }
        return out.toString();
    }

    /** Does any port have a check or outlier detection, or any endpoint health other than up? */
    private static boolean anyHealth(JsonNode api) {
        for (JsonNode service : api.path("services")) {
            JsonNode health = service.path("health");
            if (health.path("check").isObject() || health.path("outlierDetection").isObject()
                    || health.path("failingOpen").asBoolean(false)) {
                return true;
            }
            for (JsonNode endpoint : service.path("endpoints")) {
                if (!text(endpoint.path("health").path("state"), "up").equals("up")) {
                    return true;
                }
            }
        }
        return false;
    }

    private static String title(Layout layout, boolean health) {
        return switch (layout) {
            case CONNECTIONS -> "Prot LocalAddress:Port Scheduler Flags\n"
                    + "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn" + (health ? " Health" : "") + "\n";
            case STATS -> format("%-33s %8s %8s %8s\n  -> RemoteAddress:Port\n",
                    "Prot LocalAddress:Port", "Conns", "InBytes", "OutBytes");
            case RATE -> format("%-33s %8s %8s %8s\n  -> RemoteAddress:Port\n",
                    "Prot LocalAddress:Port", "CPS", "InBPS", "OutBPS");
        };
    }

    /** @param zone where to show the times of health, or null for a listing without health */
    private static void appendService(StringBuilder out, JsonNode service, Layout layout, boolean exact, ZoneId zone) {
        JsonNode listen = service.path("listen");
        String name = format("%-4s %s", text(service.path("protocol")), text(listen.path(0)));
        switch (layout) {
            case CONNECTIONS -> {
                out.append(name).append(' ').append(text(service.path("scheduler")));
                if ("ClientIP".equals(text(service.path("sessionAffinity")))) {
                    out.append(" persistent");
                    JsonNode timeout = service.path("affinityTimeoutSeconds");
                    if (timeout.isNumber()) {
                        out.append(' ').append(number(timeout));
                    }
                }
                appendLimitFlags(out, service.path("limits"));
                if (zone != null) {
                    appendHealthFlags(out, service.path("health"));
                }
                // Several ports may share this listener: the names tell which one a connection reaches.
                JsonNode serverNames = service.path("serverNames");
                if (serverNames.isArray() && !serverNames.isEmpty()) {
                    out.append(" sni");
                    serverNames.forEach(n -> out.append(' ').append(text(n)));
                }
            }
            case STATS -> out.append(format("%-33s", name))
                    .append(largeNumber(number(service.path("connections")), exact))
                    .append(largeNumber(number(service.path("bytesIn")), exact))
                    .append(largeNumber(number(service.path("bytesOut")), exact));
            case RATE -> {
                JsonNode rate = service.path("rate");
                out.append(format("%-33s", name))
                        .append(largeNumber(perSecond(rate.path("connections")), exact))
                        .append(largeNumber(perSecond(rate.path("bytesIn")), exact))
                        .append(largeNumber(perSecond(rate.path("bytesOut")), exact));
            }
        }
        out.append('\n');
        for (int i = 1; i < listen.size(); i++) {
            out.append(ADDRESS_INDENT).append(text(listen.get(i))).append('\n');
        }
        String forward = text(service.path("forward"));
        for (JsonNode endpoint : service.path("endpoints")) {
            appendEndpoint(out, endpoint, forward, layout, exact, zone);
        }
    }

    /** The port's per-client limits and rate, shortest first: {@code limits 100/client 50/s/client 5000/s}. */
    private static void appendLimitFlags(StringBuilder out, JsonNode limits) {
        if (!limits.isObject()) {
            return;
        }
        out.append(" limits");
        long perClient = number(limits.path("maxConnectionsPerClient"));
        if (perClient > 0) {
            out.append(' ').append(perClient).append("/client");
        }
        if (limits.path("connectionRatePerClient").isString()) {
            out.append(' ').append(text(limits.path("connectionRatePerClient"))).append("/client");
        }
        if (limits.path("connectionRate").isString()) {
            out.append(' ').append(text(limits.path("connectionRate")));
        }
    }

    /** What may take endpoints out ({@code check tcp 2s}, {@code outlier}), and whether the port fails open now. */
    private static void appendHealthFlags(StringBuilder out, JsonNode health) {
        JsonNode check = health.path("check");
        if (check.isObject()) {
            out.append(" check ").append(text(check.path("type"), "?"));
            JsonNode interval = check.path("intervalSeconds");
            if (interval.isNumber()) {
                out.append(' ').append(BigDecimal.valueOf(interval.doubleValue()).stripTrailingZeros().toPlainString())
                        .append('s');
            }
        }
        if (health.path("outlierDetection").isObject()) {
            out.append(" outlier");
        }
        long times = number(health.path("failOpenEntered"));
        if (health.path("failingOpen").asBoolean(false)) {
            // Loud on purpose: every endpoint failed its checks and still gets traffic.
            out.append(" FAILING OPEN (").append(times).append(times == 1 ? " time" : " times").append(')');
        } else if (times > 0) {
            out.append(" failed open ").append(times).append(times == 1 ? " time" : " times");
        }
    }

    /**
     * The weight IPVS would show: the configured one while the endpoint takes new connections (up,
     * and in service by its health), else 0.
     */
    private static long effectiveWeight(JsonNode endpoint) {
        boolean up = text(endpoint.path("state"), "up").equals("up")
                && endpoint.path("health").path("inService").asBoolean(true);
        return up ? number(endpoint.path("weight")) : 0;
    }

    /** The Health column: {@code up}, {@code down (reason)}, {@code ejected until 12:03:04 (reason)}. */
    private static String health(JsonNode endpoint, ZoneId zone) {
        JsonNode health = endpoint.path("health");
        String state = text(health.path("state"), "up");
        String reason = text(health.path("lastFailure").path("message"), "");
        String because = reason.isEmpty() ? "" : " (" + reason + ")";
        return switch (state) {
            case "up" -> "up";
            case "down" -> "down" + because;
            case "ejected" -> {
                String until = clock(text(health.path("ejectedUntil"), ""), zone);
                yield "ejected" + (until.isEmpty() ? "" : " until " + until) + because;
            }
            default -> state;
        };
    }

    /** An ISO-8601 instant as the time of day in {@code zone}; "" when it is not one. */
    private static String clock(String iso, ZoneId zone) {
        try {
            return CLOCK.format(Instant.parse(iso).atZone(zone));
        } catch (DateTimeException e) {
            return "";
        }
    }

    /** @param zone where to show the times of health, or null for a listing without the Health column */
    private static void appendEndpoint(StringBuilder out, JsonNode endpoint, String forward, Layout layout,
            boolean exact, ZoneId zone) {
        String address = text(endpoint.path("address"));
        switch (layout) {
            case CONNECTIONS -> out.append(format("  -> %-28s %-7s %-6d %-10d %-10d", address, forward,
                    effectiveWeight(endpoint), number(endpoint.path("active")),
                    number(endpoint.path("inactive"))))
                    .append(zone == null ? "" : " " + health(endpoint, zone));
            case STATS -> out.append(format("  -> %-28s", address))
                    .append(largeNumber(number(endpoint.path("connections")), exact))
                    .append(largeNumber(number(endpoint.path("bytesIn")), exact))
                    .append(largeNumber(number(endpoint.path("bytesOut")), exact));
            case RATE -> {
                JsonNode rate = endpoint.path("rate");
                // ipvsadm prints a real server's CPS unabbreviated (%8llu), unlike the service's.
                out.append(format("  -> %-28s %8d", address, perSecond(rate.path("connections"))))
                        .append(largeNumber(perSecond(rate.path("bytesIn")), exact))
                        .append(largeNumber(perSecond(rate.path("bytesOut")), exact));
            }
        }
        out.append('\n');
    }

    /**
     * ipvsadm's {@code print_largenum}: a column nine wide; a number that does not fit in eight digits
     * is cut to thousands (K), millions (M), billions (G) or trillions (T), or, exact, widens its column.
     */
    static String largeNumber(long n, boolean exact) {
        if (exact) {
            String digits = Long.toString(n);
            return " ".repeat(Math.max(1, 9 - digits.length())) + digits;
        }
        if (n < 100_000_000L) {
            return format("%9d", n);
        } else if (n < 1_000_000_000L) {
            return format("%8dK", n / 1_000L);
        } else if (n < 100_000_000_000L) {
            return format("%8dM", n / 1_000_000L);
        } else if (n < 100_000_000_000_000L) {
            return format("%8dG", n / 1_000_000_000L);
        }
        return format("%8dT", n / 1_000_000_000_000L);
    }

    /** IPVS reports whole numbers per second; ours are fractions over the API's rate interval. */
    private static long perSecond(JsonNode rate) {
        return Math.round(decimal(rate));
    }

    // Jackson 2's lenient readings of a value, which Jackson 3 no longer makes: a document from
    // another l4lb, or with a value of an unexpected type, lists as it always did.

    /** The text of a value: "" when absent or a list or mapping, "null" for null. */
    private static String text(JsonNode node) {
        return node.isMissingNode() || node.isContainer() ? "" : node.isNull() ? "null" : node.asString();
    }

    private static String text(JsonNode node, String absent) {
        return node.isMissingNode() || node.isNull() ? absent : text(node);
    }

    /** A whole number: a fraction cut, true 1, a numeric string read, anything else 0. */
    private static long number(JsonNode node) {
        if (node.isNumber()) {
            return node.isIntegralNumber() ? node.bigIntegerValue().longValue() : (long) node.doubleValue();
        }
        if (node.isString()) {
            String digits = node.stringValue().trim();
            try {
                return Long.parseLong(digits);
            } catch (NumberFormatException e) {
                return (long) decimal(node);
            }
        }
        return node.isBoolean() && node.booleanValue() ? 1 : 0;
    }

    /** A number: true 1, a numeric string read, anything else 0. */
    private static double decimal(JsonNode node) {
        if (node.isNumber()) {
            return node.doubleValue();
        }
        if (node.isString()) {
            try {
                return Double.parseDouble(node.stringValue().trim());
            } catch (NumberFormatException e) {
                return 0;
            }
        }
        return node.isBoolean() && node.booleanValue() ? 1 : 0;
    }

    private static String format(String pattern, Object... args) {
        return String.format(Locale.ROOT, pattern, args);
    }
}

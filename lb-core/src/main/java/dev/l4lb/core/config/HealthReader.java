package dev.l4lb.core.config;

import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Set;

import org.jspecify.annotations.Nullable;
import tools.jackson.databind.JsonNode;

import dev.l4lb.core.model.HealthCheck;
import dev.l4lb.core.model.HealthCheck.StatusRange;
import dev.l4lb.core.model.HealthPolicy;
import dev.l4lb.core.model.OutlierDetection;
import dev.l4lb.core.model.Protocol;

/** Reads a port's {@code healthCheck}, {@code outlierDetection} and {@code failOpen} into its health policy. */
final class HealthReader {
    /** The port keys this reader owns. */
    static final List<String> PORT_KEYS = List.of("healthCheck", "outlierDetection", "failOpen");
    private static final Set<String> CHECK_KEYS = Set.of("type", "interval", "timeout", "rise", "fall", "port", "path",
            "expectStatus", "sendProxyProtocol", "startDown");
    private static final Set<String> OUTLIER_KEYS = Set.of("consecutiveConnectFailures", "baseEjectionTime",
            "maxEjectionTime", "maxEjectionPercent");
    /** HAProxy's rise and fall are unbounded; a hundred probes in a row is already minutes of a wrong state. */
    private static final int MAX_RISE_FALL = 100;

    /** What the config's {@code type} names: the model's kinds, and none. */
    private enum CheckType {
        NONE("none"), TCP("tcp"), HTTP("http");

        private final String configName;

        CheckType(String configName) {
            this.configName = configName;
        }

        String configName() {
            return configName;
        }
    }

    private final Problems problems;

    HealthReader(Problems problems) {
        this.problems = problems;
    }

    /**
     * The health policy of the port whose fields are {@code port}, or null when a problem was found
     * in it (every problem reported).
     */
    @Nullable HealthPolicy read(FieldReader port, Protocol protocol) {
        int before = problems.count();
        Optional<HealthCheck> check = port.has("healthCheck")
                ? check(port.node("healthCheck"), port.path("healthCheck"), protocol, sendsProxyHeader(port))
                : Optional.empty();
        Optional<OutlierDetection> outliers = port.has("outlierDetection")
                ? outlierDetection(port.node("outlierDetection"), port.path("outlierDetection"))
                : Optional.empty();
        boolean failOpen = port.bool("failOpen", true);
        // Like trustedUpstreams without acceptProxyProtocol: a policy for a case that never comes is a forgotten switch.
        if (problems.count() == before && port.has("failOpen") && check.isEmpty() && outliers.isEmpty()) {
            problems.add(port.path("failOpen"), "has no effect without a healthCheck or outlierDetection:"
                    + " no endpoint is ever taken out");
        }
        return problems.count() > before ? null : new HealthPolicy(check, outliers, failOpen);
    }

    /**
     * Whether the port sends a PROXY header, or null when its proxyProtocol is misspelt (reported
     * there, so sendProxyProtocol is not reported again for it).
     */
    private static @Nullable Boolean sendsProxyHeader(FieldReader port) {
        if (!port.has("proxyProtocol")) {
            return false;
        }
        String value = FieldReader.shown(port.node("proxyProtocol"));
        return value.equals("none") ? Boolean.FALSE : value.equals("v1") || value.equals("v2") ? Boolean.TRUE : null;
    }

    private Optional<HealthCheck> check(@Nullable JsonNode node, String path, Protocol protocol,
                                        @Nullable Boolean sendsProxyHeader) {
        FieldReader fields = FieldReader.of(node, path, CHECK_KEYS, problems);
        if (fields == null) {
            return Optional.empty();
        }
        int before = problems.count();
        CheckType type = fields.oneOf("type", CheckType.NONE, CheckType.class, CheckType::configName);
        if (problems.count() > before) {
            // A misspelt type is reported once, at itself, not again at every key it would govern.
            return Optional.empty();
        }
        if (type == CheckType.NONE) {
            for (String key : CHECK_KEYS.stream().sorted().toList()) {
                if (!key.equals("type") && fields.has(key)) {
                    problems.add(fields.path(key), "has no effect with type: none"
                            + (fields.has("type") ? "" : " (the default: set type: tcp or http)"));
                }
            }
            return Optional.empty();
        }
        if (protocol == Protocol.UDP && type == CheckType.TCP) {
            problems.add(fields.path("type"), "a tcp check connects to the traffic port, which is UDP here;"
                    + " use type: http with a TCP port:, or outlierDetection");
        }
        if (protocol == Protocol.UDP && type == CheckType.HTTP && !fields.has("port")) {
            problems.add(path, "missing key 'port': an http check on a UDP port needs the TCP port to check");
        }

        Duration interval = fields.duration("interval", HealthCheck.DEFAULT_INTERVAL);
        boolean intervalOk = interval.compareTo(HealthCheck.MIN_INTERVAL) >= 0;
        if (!intervalOk) {
            problems.add(fields.path("interval"), "must be at least " + Durations.format(HealthCheck.MIN_INTERVAL)
                    + ": a shorter interval over many endpoints is a flood, not a check");
        }
        // Unset, the timeout follows a short interval down, so that interval: 500ms alone is valid.
        Duration timeout = fields.duration("timeout", intervalOk && interval.compareTo(HealthCheck.DEFAULT_TIMEOUT) < 0
                ? interval : HealthCheck.DEFAULT_TIMEOUT);
        if (timeout.isZero()) {
            problems.add(fields.path("timeout"), "must be more than 0");
        } else if (intervalOk && timeout.compareTo(interval) > 0) {
            // A probe still running when the next is due would overlap it: the interval would be a lie.
            problems.add(fields.path("timeout"), Durations.format(timeout) + " must not exceed interval ("
                    + Durations.format(interval) + ")");
        }
        int rise = fields.integer("rise", HealthCheck.DEFAULT_RISE, 1, MAX_RISE_FALL);
        int fall = fields.integer("fall", HealthCheck.DEFAULT_FALL, 1, MAX_RISE_FALL);
        int checkPort = fields.integer("port", 0, 1, 65535);
        String checkPath = httpOnly(fields, type, "path") ? path(fields) : HealthCheck.DEFAULT_PATH;
        StatusRange expect = httpOnly(fields, type, "expectStatus") ? expectStatus(fields) : HealthCheck.DEFAULT_EXPECT_STATUS;
        boolean sendProxy = fields.bool("sendProxyProtocol", false);
        if (sendProxy && protocol == Protocol.UDP) {
            problems.add(fields.path("sendProxyProtocol"), "the PROXY protocol is TCP-only in l4lb;"
                    + " a UDP port has no header to send");
        } else if (sendProxy && Boolean.FALSE.equals(sendsProxyHeader)) {
            problems.add(fields.path("sendProxyProtocol"), "needs the port's proxyProtocol: v1 or v2"
                    + " (the probe sends the header the port's connections send)");
        }
        boolean startDown = fields.bool("startDown", false);
        if (problems.count() > before) {
            return Optional.empty();
        }
        return Optional.of(new HealthCheck(type == CheckType.TCP ? HealthCheck.Kind.TCP : HealthCheck.Kind.HTTP,
                interval, timeout, rise, fall, checkPort, checkPath, expect, sendProxy, startDown));
    }

    /** True for an http check; a tcp check sends no request, so the key is a problem there. */
    private boolean httpOnly(FieldReader fields, CheckType type, String key) {
        if (type == CheckType.HTTP) {
            return true;
        }
        if (fields.has(key)) {
            problems.add(fields.path(key), "is for type: http only (a tcp check sends no request)");
        }
        return false;
    }

    /** The request path: it goes into the request line as written, so nothing that would break the line. */
    private String path(FieldReader fields) {
        String value = fields.string("path", HealthCheck.DEFAULT_PATH);
        if (!value.startsWith("/") || !value.chars().allMatch(c -> c > ' ' && c < 0x7f)) {
            problems.add(fields.path("path"), "'" + value + "' must start with '/' and be printable ASCII without spaces"
                    + " (percent-encode anything else)");
            return HealthCheck.DEFAULT_PATH;
        }
        return value;
    }

    private StatusRange expectStatus(FieldReader fields) {
        JsonNode value = fields.node("expectStatus");
        if (value == null) {
            return HealthCheck.DEFAULT_EXPECT_STATUS;
        }
        // YAML reads 204 as a number and 200-399 as text: both are what the user meant.
        Optional<StatusRange> range = value.isString() || value.isIntegralNumber()
                ? StatusRange.parse(FieldReader.shown(value)) : Optional.empty();
        if (range.isEmpty()) {
            problems.add(fields.path("expectStatus"), "'" + FieldReader.shown(value)
                    + "' is not a status or a range of them such as 204 or 200-399 (100..599, low to high)");
            return HealthCheck.DEFAULT_EXPECT_STATUS;
        }
        return range.get();
    }

    private Optional<OutlierDetection> outlierDetection(@Nullable JsonNode node, String path) {
        FieldReader fields = FieldReader.of(node, path, OUTLIER_KEYS, problems);
        if (fields == null) {
            return Optional.empty();
        }
        int before = problems.count();
        int failures = fields.integer("consecutiveConnectFailures", OutlierDetection.DEFAULT_CONSECUTIVE_CONNECT_FAILURES,
                1, Integer.MAX_VALUE);
        Duration base = fields.duration("baseEjectionTime", OutlierDetection.DEFAULT_BASE_EJECTION_TIME);
        if (base.isZero()) {
            problems.add(fields.path("baseEjectionTime"), "must be more than 0");
        }
        // Unset, the cap rises to a long base time, so that baseEjectionTime: 10m alone is valid.
        Duration max = fields.duration("maxEjectionTime", base.compareTo(OutlierDetection.DEFAULT_MAX_EJECTION_TIME) > 0
                ? base : OutlierDetection.DEFAULT_MAX_EJECTION_TIME);
        if (max.compareTo(base) < 0) {
            problems.add(fields.path("maxEjectionTime"), Durations.format(max) + " must not be below baseEjectionTime ("
                    + Durations.format(base) + ")");
        }
        int percent = fields.integer("maxEjectionPercent", OutlierDetection.DEFAULT_MAX_EJECTION_PERCENT, 0, 100);
        if (problems.count() > before) {
            return Optional.empty();
        }
        return Optional.of(new OutlierDetection(failures, base, max, percent));
    }
}

package dev.l4lb.core.model;

import java.time.Duration;
import java.util.Objects;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A port's active health check: every {@code interval} each endpoint is probed (a TCP connect, or
 * an HTTP GET whose status must fall in {@code expectStatus}); {@code fall} failures in a row take
 * it out of service, {@code rise} successes in a row bring it back, as HAProxy's checks do.
 *
 * @param kind              what a probe does
 * @param interval          between two probes of one endpoint (each endpoint keeps its own phase, spread at random)
 * @param timeout           for the whole probe: connect, and for http the status line
 * @param rise              consecutive successes that bring a down endpoint back
 * @param fall              consecutive failures that take an up endpoint down
 * @param port              the port probed; 0 probes the endpoint's traffic port
 * @param path              http: the request path
 * @param expectStatus      http: the statuses that pass
 * @param sendProxyProtocol write the port's PROXY header first (a LOCAL one: the probe is the balancer's own)
 * @param startDown         a new endpoint starts down and waits for {@code rise} successes (HAProxy's {@code init-state down})
 */
public record HealthCheck(Kind kind, Duration interval, Duration timeout, int rise, int fall, int port, String path,
                          StatusRange expectStatus, boolean sendProxyProtocol, boolean startDown) {

    public static final Duration DEFAULT_INTERVAL = Duration.ofSeconds(2);
    public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(1);
    public static final int DEFAULT_RISE = 2;
    public static final int DEFAULT_FALL = 3;
    public static final String DEFAULT_PATH = "/";
    public static final StatusRange DEFAULT_EXPECT_STATUS = new StatusRange(200, 399);
    /** Probes no more often than this: a 1 ms interval over many endpoints is a flood, not a check. */
    public static final Duration MIN_INTERVAL = Duration.ofMillis(100);

    /** What one probe does. */
    public enum Kind {
        /** Connects; a completed handshake passes. */
        TCP("tcp"),
        /** Connects and sends {@code GET path}; a status in {@code expectStatus} passes. */
        HTTP("http");

        private final String configName;

        Kind(String configName) {
            this.configName = configName;
        }

        /** The spelling the config file uses. */
        public String configName() {
            return configName;
        }
    }

    public HealthCheck {
        Objects.requireNonNull(kind, "kind");
        Objects.requireNonNull(interval, "interval");
        Objects.requireNonNull(timeout, "timeout");
        Objects.requireNonNull(path, "path");
        Objects.requireNonNull(expectStatus, "expectStatus");
        if (interval.compareTo(MIN_INTERVAL) < 0) {
            throw new IllegalArgumentException("interval must be at least " + MIN_INTERVAL.toMillis() + "ms");
        }
        if (timeout.isNegative() || timeout.isZero()) {
            throw new IllegalArgumentException("timeout must be positive");
        }
        if (rise < 1 || fall < 1) {
            throw new IllegalArgumentException("rise and fall must be at least 1");
        }
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("port out of 0..65535");
        }
        if (!path.startsWith("/")) {
            throw new IllegalArgumentException("path must start with /");
        }
    }

    /** A TCP check with every default (what {@code lb kube --health-checks} gives each TCP port). */
    public static HealthCheck tcpDefaults() {
        return new HealthCheck(Kind.TCP, DEFAULT_INTERVAL, DEFAULT_TIMEOUT, DEFAULT_RISE, DEFAULT_FALL, 0, DEFAULT_PATH,
                DEFAULT_EXPECT_STATUS, false, false);
    }

    /** An inclusive range of HTTP statuses, {@code 200-399}, or one status, {@code 204}. */
    public record StatusRange(int low, int high) {
        /** Three digits each: no status has more, and a longer number cannot overflow the parse. */
        private static final Pattern TEXT = Pattern.compile("(\\d{3})(?:-(\\d{3}))?");

        public StatusRange {
            if (low < 100 || high > 599 || low > high) {
                throw new IllegalArgumentException("statuses run from 100 to 599, low to high: " + low + "-" + high);
            }
        }

        /**
         * The range written as a config writes it, {@code 200-399} or {@code 204}; empty when the
         * text is not one, or its statuses are out of 100..599 or run high to low.
         */
        public static Optional<StatusRange> parse(String text) {
            Matcher m = TEXT.matcher(text);
            if (!m.matches()) {
                return Optional.empty();
            }
            int low = Integer.parseInt(m.group(1));
            int high = m.group(2) == null ? low : Integer.parseInt(m.group(2));
            return low < 100 || high > 599 || low > high ? Optional.empty() : Optional.of(new StatusRange(low, high));
        }

        public boolean contains(int status) {
            return status >= low && status <= high;
        }

        @Override
        public String toString() {
            return low == high ? Integer.toString(low) : low + "-" + high;
        }
    }
}

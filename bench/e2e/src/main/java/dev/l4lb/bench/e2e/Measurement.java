package dev.l4lb.bench.e2e;

import java.nio.ByteBuffer;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.Set;
import java.util.zip.DataFormatException;

import org.HdrHistogram.Histogram;

import tools.jackson.databind.JsonNode;

/**
 * One run of one workload on one path, as the e2e harness records it in results.jsonl.
 *
 * @param layout  how the balancer and the load were placed on the cores ({@code unpinned} or
 *                {@code pinned}); lines written before the harness had layouts were all pinned
 * @param numbers every other numeric field of the line ({@code p99_ms}, {@code services},
 *                {@code rate}, {@code rss_after_kib}, {@code balancer_cpu_ms}, ...), which differ by kind
 * @param histogramBase64 the fixed-rate latency histogram (microseconds, compressed, base64),
 *                        empty for the other kinds
 */
record Measurement(String kind, String path, String layout, int run, double value, String unit, long errors,
                   Map<String, Double> numbers, String histogramBase64) {

    static final String PINNED = "pinned";
    private static final Set<String> CORE_FIELDS = Set.of("kind", "path", "run", "value", "unit", "errors");

    Measurement {
        numbers = Map.copyOf(numbers);
    }

    /** Reads one measurement line; a line that lacks what every measurement has is an error, not a zero. */
    static Measurement of(JsonNode line) {
        String kind = line.path("kind").asText("");
        String path = line.path("path").asText("");
        if (kind.isEmpty() || path.isEmpty()) {
            throw new IllegalArgumentException("no \"kind\" or \"path\"");
        }
        if (!line.path("run").canConvertToInt() || !line.path("value").isNumber()) {
            throw new IllegalArgumentException(kind + " on " + path + ": no numeric \"run\" or \"value\"");
        }
        Map<String, Double> numbers = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> field : line.properties()) {
            if (field.getValue().isNumber() && !CORE_FIELDS.contains(field.getKey())) {
                numbers.put(field.getKey(), field.getValue().asDouble());
            }
        }
        Measurement measurement = new Measurement(kind, path, line.path("layout").asText(PINNED),
                line.path("run").asInt(), line.path("value").asDouble(),
                line.path("unit").asText(""), line.path("errors").asLong(0), numbers,
                line.path("histogram").asText(""));
        // Decode once here so a corrupt histogram rejects its line when read, not halfway through a chart.
        measurement.latencyMicros();
        return measurement;
    }

    OptionalDouble number(String name) {
        Double number = numbers.get(name);
        return number == null ? OptionalDouble.empty() : OptionalDouble.of(number);
    }

    /**
     * The balancer's own CPU time per unit of work, when the harness measured it (paths with a
     * balancer process): µs per request for request workloads, ms per GB moved for bulk ones.
     */
    OptionalDouble cpuPerUnit() {
        OptionalDouble cpuMs = number("balancer_cpu_ms");
        if (cpuMs.isEmpty()) {
            return OptionalDouble.empty();
        }
        OptionalDouble requests = number("requests");
        if (requests.isPresent()) {
            return requests.getAsDouble() > 0 ? OptionalDouble.of(cpuMs.getAsDouble() * 1000 / requests.getAsDouble())
                    : OptionalDouble.empty();
        }
        OptionalDouble seconds = number("seconds");
        double gigabytes = seconds.isPresent() ? value * seconds.getAsDouble() / 8 : 0; // Gbit/s over the run
        return gigabytes > 0 ? OptionalDouble.of(cpuMs.getAsDouble() / gigabytes) : OptionalDouble.empty();
    }

    /** A fresh copy of the recorded latency histogram each call, so callers may merge into it freely. */
    Optional<Histogram> latencyMicros() {
        if (histogramBase64.isEmpty()) {
            return Optional.empty();
        }
        try {
            ByteBuffer encoded = ByteBuffer.wrap(Base64.getDecoder().decode(histogramBase64));
            return Optional.of(Histogram.decodeFromCompressedByteBuffer(encoded, 0));
        } catch (DataFormatException | RuntimeException e) {
            throw new IllegalArgumentException(kind + " on " + path + " run " + run + ": unreadable histogram: " + e, e);
        }
    }
}

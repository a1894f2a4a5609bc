package dev.l4lb.bench.e2e;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.OptionalDouble;
import java.util.Set;
import java.util.function.ToDoubleFunction;

import tools.jackson.core.JacksonException;
import tools.jackson.databind.DeserializationFeature;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.ObjectMapper;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.MissingNode;

/**
 * Everything one e2e bench run recorded in results.jsonl, and the medians the report is made of.
 *
 * @param meta the machine and tool versions; a {@link MissingNode} when the harness wrote none
 * @param skipped lines that could not be read, with where and why, so the report can show them
 */
record E2eResults(JsonNode meta, List<UnavailablePath> unavailable, List<Measurement> measurements,
                  List<String> skipped) {

    /** The paths the harness knows, in the order a reader compares them: baseline, kernel, proxies. */
    private static final List<String> KNOWN_PATHS = List.of("direct", "iptables", "ipvs", "haproxy", "nginx", "l4lb-epoll",
            "l4lb-io_uring", "l4lb-nio", "l4lb-redirect", "l4lb-tproxy");

    /** The two paths the apply table compares: kube-proxy's rules, and l4lb with a config of listeners. */
    static final String SCALE_IPTABLES = "iptables";
    static final String SCALE_L4LB = "l4lb-epoll";
    /** Time from starting {@code lb run --manifests} to its first sync's "in sync" line, per path. */
    static final String SCALE_STARTUP = "startup";
    private static final Set<String> SCALE_KINDS = Set.of("scale_newconn", "apply", SCALE_STARTUP);

    /**
     * A path the harness could not measure on this machine, and why.
     *
     * @param phase the phase it was not measured in ({@code udp}: HAProxy has no UDP), or empty for the whole run
     */
    record UnavailablePath(String path, String phase, String reason) {
        boolean wholeRun() {
            return phase.isEmpty();
        }
    }

    E2eResults {
        unavailable = List.copyOf(unavailable);
        measurements = List.copyOf(measurements);
        skipped = List.copyOf(skipped);
    }

    /** Reads every line it can; a bad line is kept aside in {@link #skipped()} rather than ending the report. */
    static E2eResults read(Path file) throws IOException {
        // What follows a line's JSON object is ignored, as it always was.
        ObjectMapper json = JsonMapper.builder().disable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS).build();
        JsonNode meta = MissingNode.getInstance();
        List<UnavailablePath> unavailable = new ArrayList<>();
        List<Measurement> measurements = new ArrayList<>();
        List<String> skipped = new ArrayList<>();
        List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        for (int i = 0; i < lines.size(); i++) {
            if (lines.get(i).isBlank()) {
                continue;
            }
            String where = file.getFileName() + " line " + (i + 1);
            try {
                JsonNode line = json.readTree(lines.get(i));
                if (!line.isObject()) {
                    throw new IllegalArgumentException("not a JSON object");
                }
                switch (line.path("kind").asText("")) {
                    case "meta" -> {
                        if (!meta.isMissingNode()) {
                            throw new IllegalArgumentException("a second meta line");
                        }
                        meta = line;
                    }
                    case "unavailable" -> unavailable.add(new UnavailablePath(line.path("path").asText("?"),
                            line.path("phase").asText(""), line.path("reason").asText("no reason given")));
                    default -> measurements.add(Measurement.of(line));
                }
            } catch (JacksonException e) {
                skipped.add(where + ": " + e.getOriginalMessage());
            } catch (IllegalArgumentException e) {
                skipped.add(where + ": " + e.getMessage());
            }
        }
        return new E2eResults(meta, unavailable, measurements, skipped);
    }

    /** The workloads the harness measures in each layout: the others run pinned only. */
    static final Set<String> LAYOUT_KINDS = Set.of("keepalive", "newconn", "bulk1", "bulk4");
    static final String UNPINNED = "unpinned";

    /** The layouts the main phase ran in, the headline (unpinned) first. */
    List<String> layouts() {
        Set<String> seen = new LinkedHashSet<>();
        measurements.stream().filter(m -> LAYOUT_KINDS.contains(m.kind())).forEach(m -> seen.add(m.layout()));
        List<String> ordered = new ArrayList<>(List.of(UNPINNED, Measurement.PINNED));
        ordered.retainAll(seen);
        seen.stream().filter(layout -> !ordered.contains(layout)).forEach(ordered::add);
        return ordered;
    }

    /** These results with only {@code layout}'s figures of the main phase; the other phases' figures stay. */
    E2eResults inLayout(String layout) {
        return new E2eResults(meta, unavailable, measurements.stream()
                .filter(m -> !LAYOUT_KINDS.contains(m.kind()) || m.layout().equals(layout)).toList(), skipped);
    }

    /** The paths with a measurement of any of these kinds: the known ones in their order, then others as first seen. */
    List<String> paths(Set<String> kinds) {
        Set<String> seen = new LinkedHashSet<>();
        measurements.stream().filter(m -> kinds.contains(m.kind())).forEach(m -> seen.add(m.path()));
        List<String> ordered = new ArrayList<>(KNOWN_PATHS);
        ordered.retainAll(seen);
        seen.stream().filter(path -> !KNOWN_PATHS.contains(path)).forEach(ordered::add);
        return ordered;
    }

    List<Measurement> runs(String kind, String path) {
        return measurements.stream()
                .filter(m -> m.kind().equals(kind) && m.path().equals(path))
                .sorted(Comparator.comparingInt(Measurement::run))
                .toList();
    }

    /** The service counts the scale runs configured, ascending. */
    List<Long> serviceCounts() {
        return measurements.stream()
                .filter(m -> SCALE_KINDS.contains(m.kind()))
                .map(m -> m.number("services"))
                .filter(OptionalDouble::isPresent)
                .map(services -> (long) services.getAsDouble())
                .distinct().sorted().toList();
    }

    List<Measurement> scaleRuns(String kind, String path, long services) {
        return runs(kind, path).stream().filter(m -> m.number("services").orElse(-1) == services).toList();
    }

    OptionalDouble median(String kind, String path) {
        return median(runs(kind, path), Measurement::value);
    }

    /** The median of a per-run field; runs that lack the field do not count. */
    OptionalDouble median(String kind, String path, String field) {
        List<Measurement> withField = runs(kind, path).stream().filter(m -> m.number(field).isPresent()).toList();
        return median(withField, m -> m.number(field).getAsDouble());
    }

    static OptionalDouble median(List<Measurement> runs, ToDoubleFunction<Measurement> figure) {
        double[] sorted = runs.stream().mapToDouble(figure).sorted().toArray();
        if (sorted.length == 0) {
            return OptionalDouble.empty();
        }
        int middle = sorted.length / 2;
        return OptionalDouble.of(sorted.length % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2);
    }
}

package dev.l4lb.bench.e2e;

import static java.nio.charset.StandardCharsets.UTF_8;
import static dev.l4lb.bench.e2e.ReportCells.cell;
import static dev.l4lb.bench.e2e.ReportCells.chart;
import static dev.l4lb.bench.e2e.ReportCells.flags;
import static dev.l4lb.bench.e2e.ReportCells.format;
import static dev.l4lb.bench.e2e.ReportCells.mebibytes;
import static dev.l4lb.bench.e2e.ReportCells.percent;
import static dev.l4lb.bench.e2e.ReportCells.ratio;
import static dev.l4lb.bench.e2e.ReportCells.spread;
import static dev.l4lb.bench.e2e.ReportCells.text;
import static dev.l4lb.bench.e2e.ReportCells.wholeNumber;
import static dev.l4lb.bench.e2e.ReportCells.withField;
import static java.util.stream.Collectors.joining;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalDouble;
import java.util.Set;
import java.util.function.DoubleFunction;
import java.util.function.ToDoubleFunction;

import tools.jackson.databind.JsonNode;

/**
 * Turns the e2e harness's results.jsonl into report.md and the charts it embeds: per path and
 * workload the median of the runs, its ratio to the direct path and to HAProxy (to direct only for
 * UDP, which HAProxy does not carry), and every run that saw errors named next to it.
 *
 * <p>{@code E2eReport RESULTS_DIR} reads RESULTS_DIR/results.jsonl and writes RESULTS_DIR/report.md
 * and the PNGs beside it.
 */
public final class E2eReport {
    static final String RESULTS_FILE = "results.jsonl";
    static final String REPORT_FILE = "report.md";

    /** Marks a summary figure whose runs include one with errors; the tables below say which. */
    private static final String DIRTY = " †";
    private static final Set<String> SUMMARY_KINDS = Set.of("keepalive", "newconn", "bulk1");
    private static final String UDP_PINGPONG = "udp_pingpong";
    private static final String UDP_THROUGHPUT = "udp_throughput";
    private static final String UDP_PHASE = "udp";

    /**
     * A workload measured as throughput, reported as one table of per-path medians, with the
     * balancer's own CPU time per unit of work ({@code cpuUnit}) beside it.
     */
    private record Throughput(String kind, String title, String unit, DoubleFunction<String> format, String cpuUnit) {
    }

    private static final Throughput KEEPALIVE = new Throughput("keepalive", "Requests over keep-alive connections",
            "req/s", ReportCells::wholeNumber, "µs/request");
    private static final Throughput NEWCONN = new Throughput("newconn", "Requests with a new connection each",
            "req/s", ReportCells::wholeNumber, "µs/connection");
    private static final Throughput BULK1 =
            new Throughput("bulk1", "Bulk transfer, one stream", "Gbit/s", ReportCells::gigabits, "ms/GB");
    private static final Throughput BULK4 =
            new Throughput("bulk4", "Bulk transfer, four streams", "Gbit/s", ReportCells::gigabits, "ms/GB");

    private final E2eResults results;
    private final ReportCharts charts;

    E2eReport(E2eResults results, ReportCharts charts) {
        this.results = results;
        this.charts = charts;
    }

    public static void main(String[] args) throws IOException {
        // The charts are drawn with AWT, which otherwise looks for a display the bench machine does not have.
        System.setProperty("java.awt.headless", "true");
        if (args.length != 1) {
            System.err.println("usage: E2eReport RESULTS_DIR  (reads RESULTS_DIR/" + RESULTS_FILE
                    + ", writes RESULTS_DIR/" + REPORT_FILE + " and its charts)");
            System.exit(2);
        }
        Path dir = Path.of(args[0]);
        Path resultsFile = dir.resolve(RESULTS_FILE);
        if (!Files.isRegularFile(resultsFile)) {
            System.err.println("E2eReport: " + resultsFile + " does not exist");
            System.exit(1);
        }
        E2eResults results = E2eResults.read(resultsFile);
        results.skipped().forEach(line -> System.err.println("E2eReport: skipped " + line));
        // The bar chart of requests/s shows the headline layout; the other charts' phases run in one layout.
        List<String> layouts = results.layouts();
        E2eResults charted = layouts.isEmpty() ? results : results.inLayout(layouts.get(0));
        String report = new E2eReport(results, new ReportCharts(charted, dir)).markdown();
        Files.writeString(dir.resolve(REPORT_FILE), report, UTF_8);
    }

    /** The whole report; writes the charts as a side effect, since the text says which ones exist. */
    String markdown() throws IOException {
        List<String> layouts = results.layouts();
        StringBuilder s = new StringBuilder("# l4lb end-to-end bench\n\n").append(meta());
        if (layouts.isEmpty()) {
            s.append(summary(results, Measurement.PINNED));
        }
        for (String layout : layouts) {
            s.append(summary(results.inLayout(layout), layout));
        }
        for (String layout : layouts) {
            E2eResults view = results.inLayout(layout);
            s.append(throughput(view, layout, KEEPALIVE)).append(throughput(view, layout, NEWCONN));
            if (layout.equals(layouts.get(0))) {
                s.append(chart(charts.writeRequestsByPath(), "Requests per second by path (" + layout + ")",
                        ReportCharts.REQUESTS_BY_PATH, "no keep-alive or new-connection figures"));
            }
            s.append(throughput(view, layout, BULK1)).append(throughput(view, layout, BULK4));
        }
        return s
                + fixedRate()
                + chart(charts.writeLatencyPercentiles(), "Latency by percentile", ReportCharts.LATENCY_PERCENTILES,
                        "no fixed-rate histograms")
                + new ScaleSection(results).markdown()
                + chart(charts.writeScaleNewConnections(), "New connections per second by number of services",
                        ReportCharts.SCALE_NEW_CONNECTIONS, "no new-connection figures by number of services")
                + memory()
                + udpRoundTrips()
                + chart(charts.writeUdpRoundTrips(), "UDP round trip by path", ReportCharts.UDP_ROUND_TRIP,
                        "no UDP ping-pong figures")
                + udpThroughput()
                + chart(charts.writeUdpThroughput(), "UDP messages per second by path", ReportCharts.UDP_THROUGHPUT,
                        "no UDP throughput figures")
                + skipped();
    }

    private String meta() {
        JsonNode meta = results.meta();
        StringBuilder s = new StringBuilder();
        if (meta.isMissingNode()) {
            s.append("_results.jsonl has no meta line: the machine and the tool versions are unknown._\n\n");
        } else {
            s.append("- Date: ").append(text(meta, "date")).append('\n')
                    .append("- Host: ").append(text(meta, "host")).append(", kernel ").append(text(meta, "kernel"))
                    .append('\n')
                    .append("- CPU: ").append(text(meta, "cpu")).append(", ").append(text(meta, "cores"))
                    .append(" cores\n")
                    .append("- Memory: ").append(text(meta, "memory")).append('\n')
                    .append("- Run: ").append(runDescription(meta)).append('\n')
                    .append("- Pinning: ").append(text(meta, "pinning")).append('\n');
            if (!meta.path("versions").isEmpty()) {
                s.append("- Versions:\n");
                meta.path("versions").properties().forEach(version ->
                        s.append("  - ").append(version.getKey()).append(": ").append(version.getValue().asText())
                                .append('\n'));
            }
            if (!meta.path("notes").isEmpty()) {
                s.append("- Notes:\n");
                meta.path("notes").forEach(note -> s.append("  - ").append(note.asText()).append('\n'));
            }
        }
        if (!results.unavailable().isEmpty()) {
            s.append("- Not measured:\n");
            results.unavailable().forEach(path -> s.append("  - ").append(path.path())
                    .append(path.wholeRun() ? "" : " (" + path.phase() + " phase)")
                    .append(": ").append(path.reason()).append('\n'));
        }
        // End the block with one blank line, whether it ended with a list or with the no-meta sentence.
        return s.toString().endsWith("\n\n") ? s.toString() : s.append('\n').toString();
    }

    private static String runDescription(JsonNode meta) {
        String mode = meta.path("quick").asBoolean(false) ? "quick" : "full";
        return mode + ", " + text(meta, "durationSeconds") + " s per measurement, " + text(meta, "repeats")
                + " runs of each";
    }

    /**
     * The table that goes into the project README, one per layout, so it says on its own what it
     * measured and where: each figure with its ratio to HAProxy's (bulk: to direct's), and the
     * balancer's own CPU time per request and per connection beside the rates.
     */
    private String summary(E2eResults view, String layout) {
        StringBuilder s = new StringBuilder("## Summary: ").append(cell(layout)).append(layoutTitle(layout))
                .append("\n\n");
        List<String> paths = view.paths(SUMMARY_KINDS);
        if (paths.isEmpty()) {
            return s.append(view.measurements().isEmpty() ? "_No measurements._\n\n"
                    : "_No TCP figures (keep-alive, new connections, bulk, fixed rate); the sections below have the"
                            + " rest._\n\n").toString();
        }
        boolean withFixedRate = !view.paths(Set.of("fixedrate")).isEmpty() && layout.equals(Measurement.PINNED);
        s.append("| path | keep-alive req/s | × HAProxy | CPU µs/request | × HAProxy | new connection req/s | × HAProxy"
                        + " | CPU µs/connection | × HAProxy | bulk, 1 stream Gbit/s | × direct |")
                .append(withFixedRate ? " fixed-rate p99 ms" + atFixedRate() + " |" : "").append('\n')
                .append("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|").append(withFixedRate ? "--:|" : "")
                .append('\n');
        boolean anyDirty = false;
        for (String path : paths) {
            List<String> cells = new ArrayList<>();
            for (String kind : List.of("keepalive", "newconn")) {
                List<Measurement> runs = view.runs(kind, path);
                cells.add(summaryCell(runs, Measurement::value, ReportCells::wholeNumber));
                cells.add(ratio(view.median(kind, path), view.median(kind, "haproxy")));
                cells.add(format(cpuMedian(runs), ReportCells::micros));
                cells.add(ratio(cpuMedian(runs), cpuMedian(view.runs(kind, "haproxy"))));
            }
            cells.add(summaryCell(view.runs("bulk1", path), Measurement::value, ReportCells::gigabits));
            cells.add(ratio(view.median("bulk1", path), view.median("bulk1", "direct")));
            if (withFixedRate) {
                cells.add(summaryCell(withField(view.runs("fixedrate", path), "p99_ms"),
                        m -> m.number("p99_ms").getAsDouble(), ReportCells::millis));
            }
            anyDirty |= cells.stream().anyMatch(c -> c.endsWith(DIRTY));
            s.append("| ").append(cell(path)).append(" | ").append(String.join(" | ", cells)).append(" |\n");
        }
        JsonNode meta = view.meta();
        s.append('\n').append(meta.isMissingNode() ? "Medians over the runs"
                : "Medians of " + text(meta, "repeats") + " runs of " + text(meta, "durationSeconds") + " s ("
                        + (meta.path("quick").asBoolean(false) ? "quick" : "full") + " run) on "
                        + text(meta, "cpu") + ", " + text(meta, "cores") + " cores, kernel " + text(meta, "kernel")
                        + ", " + text(meta, "date"));
        s.append(". ").append(layoutDescription(layout))
                .append(" Every path runs on the same machine; direct is the client talking to the backend with no"
                        + " balancer. × HAProxy: this path's median over HAProxy's, above 1 is more req/s or more CPU."
                        + " CPU: the balancer's own user + system time (every process of it: HAProxy's threads,"
                        + " NGINX's workers, l4lb's JVM with its GC and JIT) over the run, per request wrk completed;"
                        + " blank for the kernel paths, which have no process.");
        if (withFixedRate) {
            s.append(" p99: latency at a fixed request rate, measured from when each request was due.");
        }
        if (anyDirty) {
            s.append(" †: some runs of this figure reported errors (see the tables below).");
        }
        // This table is TCP's: a path missing from one phase only (HAProxy in the udp phase) is not news here.
        List<E2eResults.UnavailablePath> notMeasured =
                view.unavailable().stream().filter(E2eResults.UnavailablePath::wholeRun).toList();
        if (!notMeasured.isEmpty()) {
            s.append(" Not measured: ").append(notMeasured.stream()
                    .map(path -> path.path() + " (" + path.reason() + ")").collect(joining(", "))).append('.');
        }
        return s.append("\n\n").toString();
    }

    private static String layoutTitle(String layout) {
        return switch (layout) {
            case E2eResults.UNPINNED -> ", as users run it";
            case Measurement.PINNED -> ", one core for the balancer";
            default -> "";
        };
    }

    private static String layoutDescription(String layout) {
        return switch (layout) {
            case E2eResults.UNPINNED -> "Unpinned: each balancer with its defaults for this machine's cores (a"
                    + " thread, worker or event loop per core), and the load generator, the balancer and the backends"
                    + " sharing the cores as the kernel schedules them, so what a balancer spends is taken from the"
                    + " client and the backends.";
            case Measurement.PINNED -> "Pinned: the balancer alone on one core with one thread, the load generator"
                    + " and the backends on the other; the client side is often the limit here, so its CPU per"
                    + " request says more than its rate.";
            default -> "Layout " + layout + ".";
        };
    }

    /** The median over the runs of the balancer's CPU time per unit of work, where it was measured. */
    private static OptionalDouble cpuMedian(List<Measurement> runs) {
        List<Measurement> measured = runs.stream().filter(m -> m.cpuPerUnit().isPresent()).toList();
        return E2eResults.median(measured, m -> m.cpuPerUnit().getAsDouble());
    }

    private static String summaryCell(List<Measurement> runs, ToDoubleFunction<Measurement> figure,
                                      DoubleFunction<String> format) {
        OptionalDouble median = E2eResults.median(runs, figure);
        if (median.isEmpty()) {
            return ReportCells.NONE;
        }
        boolean dirty = runs.stream().anyMatch(m -> m.errors() > 0);
        return format.apply(median.getAsDouble()) + (dirty ? DIRTY : "");
    }

    private String throughput(E2eResults view, String layout, Throughput workload) {
        StringBuilder s = new StringBuilder("## ").append(workload.title()).append(" (").append(workload.unit())
                .append(", ").append(cell(layout)).append(")\n\n");
        List<String> paths = view.paths(Set.of(workload.kind()));
        if (paths.isEmpty()) {
            return s.append("_No figures._\n\n").toString();
        }
        s.append("Median of the runs (min–max). × direct, × HAProxy: this path's median over theirs;"
                        + " above 1 is more ").append(workload.unit())
                .append(". CPU: the balancer's own user + system time per unit of work, median of the runs, and its"
                        + " ratio to HAProxy's (above 1 costs more).\n\n")
                .append("| path | ").append(workload.unit()).append(" median (min–max) | × direct | × HAProxy | CPU ")
                .append(workload.cpuUnit()).append(" | CPU × HAProxy | runs | flags |\n")
                .append("|---|--:|--:|--:|--:|--:|--:|---|\n");
        OptionalDouble direct = view.median(workload.kind(), "direct");
        OptionalDouble haproxy = view.median(workload.kind(), "haproxy");
        OptionalDouble haproxyCpu = cpuMedian(view.runs(workload.kind(), "haproxy"));
        for (String path : paths) {
            List<Measurement> runs = view.runs(workload.kind(), path);
            OptionalDouble median = E2eResults.median(runs, Measurement::value);
            OptionalDouble cpu = cpuMedian(runs);
            s.append("| ").append(cell(path))
                    .append(" | ").append(spread(runs, Measurement::value, workload.format()))
                    .append(" | ").append(ratio(median, direct))
                    .append(" | ").append(ratio(median, haproxy))
                    .append(" | ").append(format(cpu, ReportCells::micros))
                    .append(" | ").append(ratio(cpu, haproxyCpu))
                    .append(" | ").append(runs.size())
                    .append(" | ").append(flags(runs)).append(" |\n");
        }
        return s.append('\n').toString();
    }

    private String fixedRate() {
        List<String> paths = results.paths(Set.of("fixedrate"));
        StringBuilder s = new StringBuilder("## Fixed-rate latency").append(atFixedRate()).append("\n\n");
        if (paths.isEmpty()) {
            return s.append("_No figures._\n\n").toString();
        }
        s.append("Open-loop load at a fixed rate; each latency is measured from when the request was due, so a stall"
                        + " counts against every request behind it. Medians of the runs' percentiles, in ms;"
                        + " p99 with (min–max). × direct, × HAProxy: this path's p99 over theirs; above 1 is slower.\n\n")
                .append("| path | p50 ms | p99 ms (min–max) | p99.9 ms | achieved req/s | × direct | × HAProxy | runs | flags |\n")
                .append("|---|--:|--:|--:|--:|--:|--:|--:|---|\n");
        OptionalDouble direct = results.median("fixedrate", "direct", "p99_ms");
        OptionalDouble haproxy = results.median("fixedrate", "haproxy", "p99_ms");
        for (String path : paths) {
            List<Measurement> runs = results.runs("fixedrate", path);
            OptionalDouble p99 = results.median("fixedrate", path, "p99_ms");
            s.append("| ").append(cell(path))
                    .append(" | ").append(format(results.median("fixedrate", path, "p50_ms"), ReportCells::millis))
                    .append(" | ").append(spread(withField(runs, "p99_ms"), m -> m.number("p99_ms").getAsDouble(),
                            ReportCells::millis))
                    .append(" | ").append(format(results.median("fixedrate", path, "p999_ms"), ReportCells::millis))
                    .append(" | ").append(format(E2eResults.median(runs, Measurement::value), ReportCells::wholeNumber))
                    .append(" | ").append(ratio(p99, direct))
                    .append(" | ").append(ratio(p99, haproxy))
                    .append(" | ").append(runs.size())
                    .append(" | ").append(flags(runs)).append(" |\n");
        }
        return s.append('\n').toString();
    }

    /** " at R req/s" for the target rate of the fixed-rate runs: one in a normal run, all of them listed if not. */
    private String atFixedRate() {
        String rates = results.measurements().stream()
                .filter(m -> m.kind().equals("fixedrate") && m.number("rate").isPresent())
                .map(m -> m.number("rate").getAsDouble())
                .distinct().sorted().map(ReportCells::wholeNumber).collect(joining(", "));
        return rates.isEmpty() ? "" : " at " + rates + " req/s";
    }

    private String memory() {
        StringBuilder s = new StringBuilder("## Memory\n\n");
        List<String> paths = results.paths(Set.of("memory"));
        if (paths.isEmpty()) {
            return s.append("_No figures._\n\n").toString();
        }
        s.append("Idle connections held open through the balancer: its resident set and Java heap before and after"
                        + " opening them, and the growth in resident set per connection.\n\n")
                .append("| path | connections | RSS before MiB | RSS after MiB | heap before MiB | heap after MiB"
                        + " | bytes per connection |\n")
                .append("|---|--:|--:|--:|--:|--:|--:|\n");
        for (String path : paths) {
            for (Measurement m : results.runs("memory", path)) {
                s.append("| ").append(cell(path))
                        .append(" | ").append(format(m.number("connections"), ReportCells::wholeNumber))
                        .append(" | ").append(mebibytes(m, "rss_before_kib"))
                        .append(" | ").append(mebibytes(m, "rss_after_kib"))
                        .append(" | ").append(mebibytes(m, "heap_before_kib"))
                        .append(" | ").append(mebibytes(m, "heap_after_kib"))
                        .append(" | ").append(wholeNumber(m.value())).append(" |\n");
            }
        }
        return s.append('\n').toString();
    }

    private String udpRoundTrips() {
        StringBuilder s = new StringBuilder("## UDP round trips (µs)\n\n");
        List<String> paths = results.paths(Set.of(UDP_PINGPONG));
        if (paths.isEmpty()) {
            return s.append("_No figures._\n\n").toString();
        }
        s.append("sockperf ping-pong: one client, ").append(messageSize(UDP_PINGPONG))
                .append(", one message in flight; each figure is a whole round trip (client, path, pod and back)."
                        + " Medians of the runs' percentiles, in µs; p50 with (min–max)."
                        + " × direct: this path's p50 and p99 over direct's; above 1 is slower.")
                .append(notInPhase()).append("\n\n")
                .append("| path | p50 µs (min–max) | p99 µs | p99.9 µs | round trips/s | × direct p50 | × direct p99 | runs | flags |\n")
                .append("|---|--:|--:|--:|--:|--:|--:|--:|---|\n");
        OptionalDouble directP50 = results.median(UDP_PINGPONG, "direct", "p50_us");
        OptionalDouble directP99 = results.median(UDP_PINGPONG, "direct", "p99_us");
        for (String path : paths) {
            List<Measurement> runs = results.runs(UDP_PINGPONG, path);
            s.append("| ").append(cell(path))
                    .append(" | ").append(spread(withField(runs, "p50_us"), m -> m.number("p50_us").getAsDouble(),
                            ReportCells::micros))
                    .append(" | ").append(format(results.median(UDP_PINGPONG, path, "p99_us"), ReportCells::micros))
                    .append(" | ").append(format(results.median(UDP_PINGPONG, path, "p999_us"), ReportCells::micros))
                    .append(" | ").append(format(results.median(UDP_PINGPONG, path, "round_trips_per_s"),
                            ReportCells::wholeNumber))
                    .append(" | ").append(ratio(results.median(UDP_PINGPONG, path, "p50_us"), directP50))
                    .append(" | ").append(ratio(results.median(UDP_PINGPONG, path, "p99_us"), directP99))
                    .append(" | ").append(runs.size())
                    .append(" | ").append(flags(runs)).append(" |\n");
        }
        return s.append('\n').toString();
    }

    private String udpThroughput() {
        StringBuilder s = new StringBuilder("## UDP throughput (messages/s)\n\n");
        List<String> paths = results.paths(Set.of(UDP_THROUGHPUT));
        if (paths.isEmpty()) {
            return s.append("_No figures._\n\n").toString();
        }
        s.append("sockperf throughput: one client sending ").append(messageSize(UDP_THROUGHPUT))
                .append(" as fast as it can. Received: what the server got per second of sending (median, min–max);"
                        + " sent: what the client sent per second; dropped: the share of the sent messages the server"
                        + " never got, and in brackets the shares the kernel counted as receive-buffer overflows of"
                        + " the balancer host's sockets (l4lb's) and of the pod's (the server's)."
                        + " × direct: received over direct's; above 1 is more.")
                .append(notInPhase()).append("\n\n")
                .append("| path | received msg/s median (min–max) | sent msg/s | dropped % (balancer / pod socket) | × direct | runs | flags |\n")
                .append("|---|--:|--:|--:|--:|--:|---|\n");
        OptionalDouble direct = results.median(UDP_THROUGHPUT, "direct");
        for (String path : paths) {
            List<Measurement> runs = results.runs(UDP_THROUGHPUT, path);
            s.append("| ").append(cell(path))
                    .append(" | ").append(spread(runs, Measurement::value, ReportCells::wholeNumber))
                    .append(" | ").append(format(results.median(UDP_THROUGHPUT, path, "sent_per_s"),
                            ReportCells::wholeNumber))
                    .append(" | ").append(format(results.median(UDP_THROUGHPUT, path, "drop_pct"), ReportCells::percent))
                    .append(dropsBySocket(runs))
                    .append(" | ").append(ratio(results.median(UDP_THROUGHPUT, path), direct))
                    .append(" | ").append(runs.size())
                    .append(" | ").append(flags(runs)).append(" |\n");
        }
        return s.append('\n').toString();
    }

    /** " (50.00 / 1.20)": the median shares of the sent messages each namespace's sockets dropped, when recorded. */
    private static String dropsBySocket(List<Measurement> runs) {
        List<Measurement> counted = runs.stream().filter(m -> m.number("sent").orElse(0) > 0
                && m.number("balancer_rcvbuf_drops").isPresent() && m.number("pod_rcvbuf_drops").isPresent()).toList();
        if (counted.isEmpty()) {
            return "";
        }
        OptionalDouble balancer = E2eResults.median(counted,
                m -> 100 * m.number("balancer_rcvbuf_drops").getAsDouble() / m.number("sent").getAsDouble());
        OptionalDouble pod = E2eResults.median(counted,
                m -> 100 * m.number("pod_rcvbuf_drops").getAsDouble() / m.number("sent").getAsDouble());
        return " (" + percent(balancer.getAsDouble()) + " / " + percent(pod.getAsDouble()) + ")";
    }

    /** "64-byte messages" from the runs' size field ("messages" when the harness did not record it). */
    private String messageSize(String kind) {
        String sizes = results.measurements().stream()
                .filter(m -> m.kind().equals(kind) && m.number("size").isPresent())
                .map(m -> m.number("size").getAsDouble())
                .distinct().sorted().map(ReportCells::wholeNumber).collect(joining(", "));
        return sizes.isEmpty() ? "messages" : sizes + "-byte messages";
    }

    /** " Not measured: haproxy (why)." for the paths the udp phase could not carry. */
    private String notInPhase() {
        String paths = results.unavailable().stream()
                .filter(path -> path.phase().equals(UDP_PHASE))
                .map(path -> cell(path.path()) + " (" + cell(path.reason()) + ")")
                .collect(joining(", "));
        return paths.isEmpty() ? "" : " Not measured: " + paths + ".";
    }

    private String skipped() {
        if (results.skipped().isEmpty()) {
            return "";
        }
        return "## Lines not read\n\n" + results.skipped().stream().map(line -> "- " + line + "\n").collect(joining())
                + "\n";
    }

}

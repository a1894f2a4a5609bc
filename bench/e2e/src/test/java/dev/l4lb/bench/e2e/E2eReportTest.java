package dev.l4lb.bench.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.HdrHistogram.Histogram;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import tools.jackson.databind.ObjectMapper;

class E2eReportTest {
    private static final byte[] PNG_SIGNATURE = {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    private static final List<String> CHARTS = List.of(
            ReportCharts.REQUESTS_BY_PATH, ReportCharts.LATENCY_PERCENTILES, ReportCharts.SCALE_NEW_CONNECTIONS,
            ReportCharts.UDP_ROUND_TRIP, ReportCharts.UDP_THROUGHPUT);
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    @Test
    void reportsMediansRatiosDirtyRunsScaleAndCharts() throws IOException {
        Files.write(dir.resolve("results.jsonl"), syntheticResults());

        E2eReport.main(new String[] {dir.toString()});

        Path report = dir.resolve("report.md");
        assertThat(report).exists();
        String md = Files.readString(report);
        // l4lb-epoll keep-alive runs 70,000, 72,000, 71,000: median 71,000. Direct's median is 105,000
        // and HAProxy's 55,000, so 71,000 / 105,000 = 0.676 and 71,000 / 55,000 = 1.291.
        // These lines carry no layout (written before the harness had layouts): they are the pinned layout's.
        assertThat(md).contains("## Requests over keep-alive connections (req/s, pinned)",
                "| l4lb-epoll | 71,000 (70,000–72,000) | 0.68 | 1.29 | – | – | 3 |  |");
        // HAProxy's run 2 had 7 errors: it stays in the median (60,000 is its max) and is named.
        assertThat(md).contains("| haproxy | 55,000 (50,000–60,000) | 0.52 | 1.00 | – | – | 3 | errors in run 2 (7) |");
        // The unpinned layout is the headline, first, with the balancers' CPU time per unit of work:
        // l4lb-epoll 7,040 ms over 440,000 requests = 16.0 µs, HAProxy 8,000 / 400,000 = 20.0 (0.80);
        // per connection 8,550 / 90,000 = 95.0 against 9,000 / 100,000 = 90.0 (1.06); bulk 12 Gbit/s
        // over 10 s is 15 GB, 4,500 ms of CPU = 300 ms/GB, HAProxy 5,000 ms over 12.5 GB = 400 (0.75).
        assertThat(md.indexOf("## Summary: unpinned, as users run it"))
                .isNotNegative().isLessThan(md.indexOf("## Summary: pinned, one core for the balancer"));
        assertThat(md).contains(
                "| l4lb-epoll | 44,000 | 1.10 | 16.0 | 0.80 | 9,000 | 0.90 | 95.0 | 1.06 | 12.00 | 0.80 |",
                "| haproxy | 40,000 | 1.00 | 20.0 | 1.00 | 10,000 | 1.00 | 90.0 | 1.00 | 10.00 | 0.67 |",
                "| direct | 50,000 | 1.25 | – | – | 12,000 | 1.20 | – | – | 15.00 | 1.00 |",
                "## Bulk transfer, one stream (Gbit/s, unpinned)",
                "| l4lb-epoll | 12.00 | 0.80 | 1.20 | 300 | 0.75 | 1 |  |");
        // The pinned summary keeps the fixed-rate p99 (that phase runs pinned); the unpinned one has no such column.
        assertThat(md).contains("| path | keep-alive req/s | × HAProxy | CPU µs/request | × HAProxy | new connection req/s"
                + " | × HAProxy | CPU µs/connection | × HAProxy | bulk, 1 stream Gbit/s | × direct | fixed-rate p99 ms at"
                + " 20,000 req/s |");
        assertThat(md).contains("ipvs: IPVS: not available in this kernel");
        assertThat(md).contains(
                "| services | iptables new conn/s | l4lb new conn/s | iptables-restore ms | l4lb snapshot ms | flags |",
                "| 1 | 21,000 | 18,500 | 5.00 | 0.800 |  |",
                "| 1,000 | 16,000 | 18,400 | 250 | 12.5 |  |");
        // Each path over its own one-service median: iptables 16,000 / 21,000 = 0.76; l4lb-epoll
        // 18,400 / 18,500 = 0.99; l4lb-tproxy 8,400 / 8,000 = 1.05.
        assertThat(md).contains(
                "| services | iptables new conn/s | l4lb-epoll new conn/s | l4lb-tproxy new conn/s | flags |",
                "| 1 | 21,000 (1.00) | 18,500 (1.00) | 8,000 (1.00) |  |",
                "| 1,000 | 16,000 (0.76) | 18,400 (0.99) | 8,400 (1.05) |  |",
                "| services | l4lb-tproxy start to in sync ms |");
        assertThat(md).contains("| l4lb-epoll | 10,000 | 100.0 | 140.0 | 50.0 | 60.0 | 4,194 |");
        // UDP round trips: l4lb-epoll's p50 runs 28, 30, 35 µs (median 30) over direct's 14: 2.14;
        // its p99 35 over direct's 19: 1.84.
        // Its run 3 lost 2 replies: counted as errors and named.
        assertThat(md).contains(
                "| path | p50 µs (min–max) | p99 µs | p99.9 µs | round trips/s | × direct p50 | × direct p99 | runs | flags |",
                "| direct | 14.0 (13.0–15.0) | 19.0 | 34.0 | 60,000 | 1.00 | 1.00 | 3 |  |",
                "| l4lb-epoll | 30.0 (28.0–35.0) | 35.0 | 50.0 | 60,000 | 2.14 | 1.84 | 3 | errors in run 3 (2) |");
        // UDP throughput: received 50,000-60,000 (median 55,000) of 1.25 times as many sent, 20 % dropped;
        // 55,000 / 105,000 = 0.52.
        assertThat(md).contains(
                "| path | received msg/s median (min–max) | sent msg/s | dropped % (balancer / pod socket) | × direct | runs | flags |",
                "| direct | 105,000 (100,000–110,000) | 131,250 | 20.00 (0.00 / 20.00) | 1.00 | 3 |  |",
                "| l4lb-epoll | 55,000 (50,000–60,000) | 68,750 | 20.00 (15.00 / 5.00) | 0.52 | 3 |  |");
        // HAProxy carries no UDP: said in the UDP sections and the meta list, not in the (TCP) summary.
        assertThat(md).contains("sockperf ping-pong: one client, 64-byte messages, one message in flight",
                "Not measured: haproxy (HAProxy has no UDP).", "  - haproxy (udp phase): HAProxy has no UDP\n",
                "Not measured: ipvs (IPVS: not available in this kernel).\n");
        for (String chart : CHARTS) {
            assertThat(md).contains("](" + chart + ")");
            assertThat(Files.readAllBytes(dir.resolve(chart))).startsWith(PNG_SIGNATURE);
        }
    }

    @Test
    void unreadableLinesAreListedAndTheRestIsReported() throws IOException {
        Files.write(dir.resolve("results.jsonl"), List.of(
                "{\"kind\":\"keepalive\",\"path\":\"direct\",\"run\":1,\"value\":,\"unit\":\"req/s\"}",
                json(measurement("keepalive", "direct", 2, 90_000, "req/s", 0)),
                "{\"kind\":\"fixedrate\",\"path\":\"direct\",\"run\":1,\"value\":1,\"histogram\":\"bm90IGEgaGlzdG9ncmFt\"}"));

        E2eReport.main(new String[] {dir.toString()});

        String md = Files.readString(dir.resolve("report.md"));
        assertThat(md).contains("no meta line", "| direct | 90,000 | 1.00 | – | – | – | 1 |  |",
                "results.jsonl line 1: ", "results.jsonl line 3: fixedrate on direct run 1: unreadable histogram");
        assertThat(md).contains("_Chart latency-percentiles.png skipped: no fixed-rate histograms._",
                "_Chart scale-newconn.png skipped: no new-connection figures by number of services._",
                "_Chart udp-round-trip.png skipped: no UDP ping-pong figures._");
        assertThat(dir.resolve(ReportCharts.LATENCY_PERCENTILES)).doesNotExist();
        assertThat(dir.resolve(ReportCharts.REQUESTS_BY_PATH)).exists();
    }

    private static List<String> syntheticResults() {
        List<String> lines = new ArrayList<>();
        lines.add(json(Map.ofEntries(Map.entry("kind", "meta"), Map.entry("date", "2025-01-01T00:00:00Z"),
                Map.entry("host", "bench-1"), Map.entry("kernel", "6.8.0"), Map.entry("cpu", "Test CPU @ 3.0GHz"),
                Map.entry("cores", 2), Map.entry("memory", "24 GiB"), Map.entry("quick", true),
                Map.entry("durationSeconds", 10), Map.entry("repeats", 3),
                Map.entry("pinning", "balancer on CPU 0, load on CPU 1"),
                Map.entry("versions", Map.of("java", "17.0.9", "l4lb", "0.1.0-SNAPSHOT", "haproxy", "2.8.5")),
                Map.entry("notes", List.of("synthetic results for E2eReportTest")))));
        lines.add(json(Map.of("kind", "unavailable", "path", "ipvs", "reason", "IPVS: not available in this kernel")));
        // Per path: keep-alive, new-connection req/s and one-stream Gbit/s of runs 1..3; four streams are double.
        Map<String, double[][]> throughput = new LinkedHashMap<>();
        throughput.put("l4lb-epoll", new double[][] {{70_000, 72_000, 71_000}, {9_000, 9_500, 9_200}, {8, 9, 8.5}});
        throughput.put("direct", new double[][] {{100_000, 110_000, 105_000}, {20_000, 21_000, 22_000}, {30, 31, 32}});
        throughput.put("iptables", new double[][] {{95_000, 97_000, 96_000}, {18_000, 18_200, 18_100}, {25, 26, 27}});
        throughput.put("haproxy", new double[][] {{50_000, 60_000, 55_000}, {8_000, 8_100, 8_200}, {6, 6.5, 7}});
        throughput.forEach((path, runs) -> {
            for (int run = 1; run <= 3; run++) {
                int errors = path.equals("haproxy") && run == 2 ? 7 : 0;
                lines.add(json(measurement("keepalive", path, run, runs[0][run - 1], "req/s", errors)));
                lines.add(json(measurement("newconn", path, run, runs[1][run - 1], "req/s", 0)));
                lines.add(json(measurement("bulk1", path, run, runs[2][run - 1], "Gbit/s", 0)));
                lines.add(json(measurement("bulk4", path, run, 2 * runs[2][run - 1], "Gbit/s", 0)));
            }
        });
        // The unpinned layout, one run each, with the balancers' CPU time (none for direct, which has no balancer).
        lines.add(json(unpinned(measurement("keepalive", "direct", 1, 50_000, "req/s", 0), 500_000, null)));
        lines.add(json(unpinned(measurement("newconn", "direct", 1, 12_000, "req/s", 0), 120_000, null)));
        lines.add(json(unpinned(measurement("bulk1", "direct", 1, 15, "Gbit/s", 0), null, null)));
        lines.add(json(unpinned(measurement("keepalive", "haproxy", 1, 40_000, "req/s", 0), 400_000, 8_000)));
        lines.add(json(unpinned(measurement("newconn", "haproxy", 1, 10_000, "req/s", 0), 100_000, 9_000)));
        lines.add(json(unpinned(measurement("bulk1", "haproxy", 1, 10, "Gbit/s", 0), null, 5_000)));
        lines.add(json(unpinned(measurement("keepalive", "l4lb-epoll", 1, 44_000, "req/s", 0), 440_000, 7_040)));
        lines.add(json(unpinned(measurement("newconn", "l4lb-epoll", 1, 9_000, "req/s", 0), 90_000, 8_550)));
        lines.add(json(unpinned(measurement("bulk1", "l4lb-epoll", 1, 12, "Gbit/s", 0), null, 4_500)));
        lines.add(fixedRate("direct", 50, 150));
        lines.add(fixedRate("iptables", 55, 170));
        lines.add(fixedRate("haproxy", 100, 400));
        lines.add(fixedRate("l4lb-epoll", 80, 300));
        double[][] scale = {{1, 20_000, 21_000, 22_000, 18_000, 18_500, 19_000, 5.0, 0.8},
                            {1_000, 15_000, 16_000, 17_000, 18_300, 18_400, 18_500, 250.0, 12.5}};
        for (double[] row : scale) {
            for (int run = 1; run <= 3; run++) {
                lines.add(json(withServices(measurement("scale_newconn", "iptables", run, row[run], "req/s", 0), row[0])));
                lines.add(json(withServices(measurement("scale_newconn", "l4lb-epoll", run, row[3 + run], "req/s", 0),
                        row[0])));
            }
            lines.add(json(withServices(measurement("apply", "iptables", 1, row[7], "ms", 0), row[0])));
            lines.add(json(withServices(measurement("apply", "l4lb", 1, row[8], "ms", 0), row[0])));
        }
        // The TPROXY portals' path: 8,000 with one service, 8,400 with 1,000 (1.05 of its own first figure).
        lines.add(json(withServices(measurement("scale_newconn", "l4lb-tproxy", 1, 8_000, "req/s", 0), 1)));
        lines.add(json(withServices(measurement("scale_newconn", "l4lb-tproxy", 1, 8_400, "req/s", 0), 1_000)));
        lines.add(json(withServices(measurement("startup", "l4lb-tproxy", 1, 1_800, "ms", 0), 1)));
        lines.add(json(withServices(measurement("startup", "l4lb-tproxy", 1, 3_600, "ms", 0), 1_000)));
        lines.add(json(Map.of("kind", "unavailable", "path", "haproxy", "phase", "udp",
                "reason", "HAProxy has no UDP")));
        // Per path: UDP round-trip p50 (µs) and received messages/s of runs 1..3.
        Map<String, double[][]> udp = new LinkedHashMap<>();
        udp.put("direct", new double[][] {{14, 15, 13}, {100_000, 110_000, 105_000}});
        udp.put("iptables", new double[][] {{16, 17, 16}, {90_000, 95_000, 92_000}});
        udp.put("l4lb-epoll", new double[][] {{28, 30, 35}, {50_000, 60_000, 55_000}});
        udp.forEach((path, runs) -> {
            for (int run = 1; run <= 3; run++) {
                double p50 = runs[0][run - 1];
                int dropped = path.equals("l4lb-epoll") && run == 3 ? 2 : 0;
                Map<String, Object> pingPong = measurement("udp_pingpong", path, run, p50, "us", dropped);
                pingPong.putAll(Map.of("size", 64, "p50_us", p50, "p99_us", p50 + 5, "p999_us", p50 + 20,
                        "round_trips_per_s", 60_000.0));
                lines.add(json(pingPong));
                double received = runs[1][run - 1];
                Map<String, Object> flood = measurement("udp_throughput", path, run, received, "msg/s", 0);
                // One second of sending (sent = sent_per_s). Direct loses all 20 % at the pod's socket,
                // l4lb-epoll 15 % at its own.
                double sent = received * 1.25;
                double atBalancer = path.equals("l4lb-epoll") ? 0.15 * sent : 0;
                flood.putAll(Map.of("size", 64, "sent_per_s", sent, "drop_pct", 20.0, "sent", sent,
                        "balancer_rcvbuf_drops", atBalancer, "pod_rcvbuf_drops", 0.2 * sent - atBalancer));
                lines.add(json(flood));
            }
        });
        Map<String, Object> memory = measurement("memory", "l4lb-epoll", 1, 4_194, "B/conn", 0);
        memory.putAll(Map.of("connections", 10_000, "rss_before_kib", 102_400, "rss_after_kib", 143_360,
                "heap_before_kib", 51_200, "heap_after_kib", 61_440));
        lines.add(json(memory));
        return lines;
    }

    /** A fixed-rate run whose latencies are spread evenly over [fromMicros, toMicros] plus a 10× tail. */
    private static String fixedRate(String path, long fromMicros, long toMicros) {
        Histogram histogram = new Histogram(TimeUnit.SECONDS.toMicros(60), 3);
        for (long micros = fromMicros; micros <= toMicros; micros++) {
            histogram.recordValueWithCount(micros, 100);
        }
        histogram.recordValueWithCount(toMicros * 10, 20);
        ByteBuffer encoded = ByteBuffer.allocate(histogram.getNeededByteBufferCapacity());
        int length = histogram.encodeIntoCompressedByteBuffer(encoded);
        Map<String, Object> line = measurement("fixedrate", path, 1, 19_990, "req/s", 0);
        line.put("rate", 20_000.0);
        line.put("p50_ms", histogram.getValueAtPercentile(50) / 1000.0);
        line.put("p90_ms", histogram.getValueAtPercentile(90) / 1000.0);
        line.put("p99_ms", histogram.getValueAtPercentile(99) / 1000.0);
        line.put("p999_ms", histogram.getValueAtPercentile(99.9) / 1000.0);
        line.put("max_ms", histogram.getMaxValue() / 1000.0);
        line.put("histogram", Base64.getEncoder().encodeToString(Arrays.copyOf(encoded.array(), length)));
        return json(line);
    }

    private static Map<String, Object> measurement(String kind, String path, int run, double value, String unit,
                                                   int errors) {
        Map<String, Object> line = new LinkedHashMap<>();
        line.put("kind", kind);
        line.put("path", path);
        line.put("run", run);
        line.put("value", value);
        line.put("unit", unit);
        line.put("errors", errors);
        return line;
    }

    /** A main-phase line of the unpinned layout: requests (wrk's count) or, without, 10 s of bulk; CPU when measured. */
    private static Map<String, Object> unpinned(Map<String, Object> line, Integer requests, Integer cpuMs) {
        line.put("layout", "unpinned");
        if (requests != null) {
            line.put("requests", requests);
        } else {
            line.put("seconds", 10);
        }
        if (cpuMs != null) {
            line.put("balancer_cpu_ms", cpuMs);
        }
        return line;
    }

    private static Map<String, Object> withServices(Map<String, Object> line, double services) {
        line.put("services", (int) services);
        return line;
    }

    private static String json(Map<String, ?> line) {
        return JSON.writeValueAsString(line);
    }
}

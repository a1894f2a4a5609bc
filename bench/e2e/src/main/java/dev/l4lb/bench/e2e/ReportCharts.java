package dev.l4lb.bench.e2e;

import java.awt.BasicStroke;
import java.awt.Color;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.OptionalDouble;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Collectors;

import org.HdrHistogram.Histogram;
import org.knowm.xchart.AnnotationLine;
import org.knowm.xchart.AnnotationText;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.BitmapEncoder.BitmapFormat;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.internal.chartpart.Chart;
import org.knowm.xchart.style.Styler.LegendPosition;
import org.knowm.xchart.style.markers.SeriesMarkers;

/** The PNG charts of the e2e report, each written only when the results hold its data. */
final class ReportCharts {
    static final String REQUESTS_BY_PATH = "requests-by-path.png";
    static final String LATENCY_PERCENTILES = "latency-percentiles.png";
    static final String SCALE_NEW_CONNECTIONS = "scale-newconn.png";
    static final String UDP_ROUND_TRIP = "udp-round-trip.png";
    static final String UDP_THROUGHPUT = "udp-throughput.png";

    private static final int WIDTH = 800;
    private static final int HEIGHT = 500;
    /** The percentile axis ends at 99.99%: 1 / (1 - 0.9999). */
    private static final double LAST_PERCENTILE_X = 10_000;
    private static final int LATENCY_POINTS = 300;
    private static final Map<Double, String> PERCENTILE_TICKS =
            Map.of(2.0, "50%", 10.0, "90%", 100.0, "99%", 1_000.0, "99.9%", 10_000.0, "99.99%");

    /** One series of bars by path: the median of {@code field} over the runs of {@code kind} (null: of their value). */
    private record Bars(String name, String kind, String field) {
    }

    private final E2eResults results;
    private final Path dir;

    ReportCharts(E2eResults results, Path dir) {
        this.results = results;
        this.dir = dir;
    }

    /** Median keep-alive and new-connection requests/s per path; false (and no file) when there are none. */
    boolean writeRequestsByPath() throws IOException {
        return writeBarsByPath(REQUESTS_BY_PATH, "Requests per second by path (median)", "requests/s", "#,###",
                List.of(new Bars("keep-alive", "keepalive", null),
                        new Bars("new connection per request", "newconn", null)));
    }

    /** Median UDP round-trip p50 and p99 per path (sockperf ping-pong), in µs. */
    boolean writeUdpRoundTrips() throws IOException {
        return writeBarsByPath(UDP_ROUND_TRIP, "UDP round trip by path (median of the runs)", "round trip (µs)",
                "#,###.#", List.of(new Bars("p50", "udp_pingpong", "p50_us"),
                        new Bars("p99", "udp_pingpong", "p99_us")));
    }

    /** Median UDP messages/s per path at the client's full rate: sent beside received, so the gap is the loss. */
    boolean writeUdpThroughput() throws IOException {
        return writeBarsByPath(UDP_THROUGHPUT, "UDP messages per second by path (median)", "messages/s", "#,###",
                List.of(new Bars("sent", "udp_throughput", "sent_per_s"),
                        new Bars("received", "udp_throughput", null)));
    }

    /** One group of bars per path with a figure of any of the series' kinds; false (and no file) when there is none. */
    private boolean writeBarsByPath(String fileName, String title, String yAxisTitle, String decimalPattern,
                                    List<Bars> series) throws IOException {
        List<String> paths = results.paths(series.stream().map(Bars::kind).collect(Collectors.toSet()));
        if (paths.isEmpty()) {
            return false;
        }
        CategoryChart chart = new CategoryChartBuilder().width(WIDTH).height(HEIGHT)
                .title(title).xAxisTitle("path").yAxisTitle(yAxisTitle).build();
        chart.getStyler().setYAxisMin(0.0).setYAxisDecimalPattern(decimalPattern)
                .setLegendPosition(LegendPosition.InsideNE);
        for (Bars bars : series) {
            addBars(chart, bars, paths);
        }
        if (chart.getSeriesMap().isEmpty()) {
            return false;
        }
        save(chart, fileName);
        return true;
    }

    private void addBars(CategoryChart chart, Bars bars, List<String> paths) {
        List<Double> medians = new ArrayList<>();
        for (String path : paths) {
            OptionalDouble median = bars.field() == null ? results.median(bars.kind(), path)
                    : results.median(bars.kind(), path, bars.field());
            // A missing figure is a gap (XChart draws no bar for null), never a zero bar that reads as "measured 0".
            medians.add(median.isPresent() ? median.getAsDouble() : null);
        }
        if (medians.stream().anyMatch(m -> m != null)) {
            chart.addSeries(bars.name(), paths, medians);
        }
    }

    /**
     * Latency against percentile, one line per path from its runs' merged histograms. The x axis is
     * 1/(1-p) on a log scale, as HdrHistogram's plotter draws it, so each "nine" gets equal width.
     */
    boolean writeLatencyPercentiles() throws IOException {
        List<String> paths = results.paths(Set.of("fixedrate"));
        XYChart chart = new XYChartBuilder().width(WIDTH).height(HEIGHT)
                .title("Latency by percentile at a fixed rate").xAxisTitle("percentile").yAxisTitle("latency (ms)")
                .build();
        double lowest = Double.MAX_VALUE;
        double highest = 0;
        for (String path : paths) {
            Histogram merged = new Histogram(3);
            results.runs("fixedrate", path).forEach(run -> run.latencyMicros().ifPresent(merged::add));
            if (merged.getTotalCount() == 0) {
                continue;
            }
            double[] x = new double[LATENCY_POINTS];
            double[] y = new double[LATENCY_POINTS];
            for (int i = 0; i < LATENCY_POINTS; i++) {
                x[i] = Math.pow(LAST_PERCENTILE_X, i / (double) (LATENCY_POINTS - 1));
                double percentile = 100 * (1 - 1 / x[i]);
                // A log axis cannot show 0; anything under the histogram's 1 µs resolution shows as 1 µs.
                y[i] = Math.max(merged.getValueAtPercentile(percentile), 1) / 1000.0;
                lowest = Math.min(lowest, y[i]);
                highest = Math.max(highest, y[i]);
            }
            chart.addSeries(path, x, y).setMarker(SeriesMarkers.NONE);
        }
        if (chart.getSeriesMap().isEmpty()) {
            return false;
        }
        double bottom = Math.pow(10, Math.floor(Math.log10(lowest)));
        double top = Math.pow(10, Math.ceil(Math.log10(highest * 1.01)));
        chart.getStyler().setXAxisLogarithmic(true).setYAxisLogarithmic(true)
                .setXAxisMin(1.0).setXAxisMax(LAST_PERCENTILE_X).setYAxisMin(bottom).setYAxisMax(top)
                .setLegendPosition(LegendPosition.InsideNW);
        labelPercentiles(chart, bottom, top);
        save(chart, LATENCY_PERCENTILES);
        return true;
    }

    /**
     * XChart 3.8.8 drops the log scale when a custom tick formatter is set (knowm/XChart#834), so the
     * decade labels (1, 10, 100...) are hidden and the percentiles are drawn as annotations instead.
     */
    private static void labelPercentiles(XYChart chart, double bottom, double top) {
        chart.getStyler().setXAxisTicksVisible(false).setPlotGridVerticalLinesVisible(false)
                .setAnnotationLineColor(Color.LIGHT_GRAY)
                .setAnnotationLineStroke(new BasicStroke(1f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10f,
                        new float[] {3f, 3f}, 0f))
                .setAnnotationTextFontColor(Color.DARK_GRAY);
        // Just above the bottom of the plot: 3% of its height, in log space.
        double labelY = bottom * Math.pow(top / bottom, 0.03);
        new TreeMap<>(PERCENTILE_TICKS).forEach((x, label) -> {
            chart.addAnnotation(new AnnotationLine(x, true, false));
            chart.addAnnotation(new AnnotationText(label, x, labelY, false));
        });
    }

    /**
     * New connections/s against the number of services configured, one line per path the scale
     * runs measured: iptables, l4lb-epoll, and l4lb's REDIRECT and TPROXY portals.
     */
    boolean writeScaleNewConnections() throws IOException {
        XYChart chart = new XYChartBuilder().width(WIDTH).height(HEIGHT)
                .title("New connections per second by number of services").xAxisTitle("services")
                .yAxisTitle("new connections/s").build();
        for (String path : results.paths(Set.of("scale_newconn"))) {
            addScaleSeries(chart, path, path);
        }
        if (chart.getSeriesMap().isEmpty()) {
            return false;
        }
        // Below the plot: inside it, four paths' legend would hide the lines it names.
        chart.getStyler().setXAxisLogarithmic(true).setXAxisDecimalPattern("#,###").setYAxisMin(0.0)
                .setYAxisDecimalPattern("#,###").setLegendPosition(LegendPosition.OutsideS);
        save(chart, SCALE_NEW_CONNECTIONS);
        return true;
    }

    private void addScaleSeries(XYChart chart, String name, String path) {
        Map<Long, Double> byServices = new TreeMap<>();
        for (long services : results.serviceCounts()) {
            E2eResults.median(results.scaleRuns("scale_newconn", path, services), Measurement::value)
                    .ifPresent(median -> byServices.put(services, median));
        }
        if (!byServices.isEmpty()) {
            chart.addSeries(name, new ArrayList<>(byServices.keySet()), new ArrayList<>(byServices.values()));
        }
    }

    private void save(Chart<?, ?> chart, String fileName) throws IOException {
        BitmapEncoder.saveBitmap(chart, dir.resolve(fileName).toString(), BitmapFormat.PNG);
    }
}

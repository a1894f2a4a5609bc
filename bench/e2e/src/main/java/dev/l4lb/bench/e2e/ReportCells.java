package dev.l4lb.bench.e2e;

import static java.util.stream.Collectors.joining;

import java.math.BigDecimal;
import java.math.MathContext;
import java.math.RoundingMode;
import java.util.List;
import java.util.Locale;
import java.util.OptionalDouble;
import java.util.function.DoubleFunction;
import java.util.function.ToDoubleFunction;

import tools.jackson.databind.JsonNode;

/** How the report writes a figure into a Markdown table cell: medians with their spread, ratios, units, flags. */
final class ReportCells {
    /** A cell with no figure. */
    static final String NONE = "–";

    private ReportCells() {
    }

    static String chart(boolean written, String title, String file, String whyNot) {
        return written ? "![" + title + "](" + file + ")\n\n" : "_Chart " + file + " skipped: " + whyNot + "._\n\n";
    }

    /** "median (min–max)", or just the median when the runs agree or there is one. */
    static String spread(List<Measurement> runs, ToDoubleFunction<Measurement> figure,
                                 DoubleFunction<String> format) {
        OptionalDouble median = E2eResults.median(runs, figure);
        if (median.isEmpty()) {
            return NONE;
        }
        String min = format.apply(runs.stream().mapToDouble(figure).min().getAsDouble());
        String max = format.apply(runs.stream().mapToDouble(figure).max().getAsDouble());
        String middle = format.apply(median.getAsDouble());
        return min.equals(max) ? middle : middle + " (" + min + "–" + max + ")";
    }

    /** Every dirty run by name: its figure stays in the median, so the reader must be told which it was. */
    static String flags(List<Measurement> runs) {
        return runs.stream()
                .filter(m -> m.errors() > 0)
                .map(m -> "errors in run " + m.run() + " (" + m.errors() + ")")
                .collect(joining("; "));
    }

    static String labelled(String label, String flags) {
        return flags.isEmpty() ? "" : label + ": " + flags;
    }

    static List<Measurement> withField(List<Measurement> runs, String field) {
        return runs.stream().filter(m -> m.number(field).isPresent()).toList();
    }

    static String blankIfMissing(List<Measurement> runs, DoubleFunction<String> format) {
        OptionalDouble median = E2eResults.median(runs, Measurement::value);
        return median.isPresent() ? format.apply(median.getAsDouble()) : "";
    }

    static String ratio(OptionalDouble figure, OptionalDouble reference) {
        if (figure.isEmpty() || reference.isEmpty() || reference.getAsDouble() == 0) {
            return NONE;
        }
        return String.format(Locale.ROOT, "%.2f", figure.getAsDouble() / reference.getAsDouble());
    }

    static String format(OptionalDouble figure, DoubleFunction<String> format) {
        return figure.isPresent() ? format.apply(figure.getAsDouble()) : NONE;
    }

    /** The harness writes 0 when it could not read a heap size, so 0 KiB means unknown, not empty. */
    static String mebibytes(Measurement m, String kibField) {
        OptionalDouble kib = m.number(kibField);
        if (kib.isEmpty() || kib.getAsDouble() == 0) {
            return NONE;
        }
        return String.format(Locale.ROOT, "%,.1f", kib.getAsDouble() / 1024);
    }

    /** Requests/s, connections, bytes: thousands separated, no decimals. */
    static String wholeNumber(double figure) {
        return String.format(Locale.ROOT, "%,.0f", figure);
    }

    /** Shares in percent: two decimals, so a small loss does not round away to 0. */
    static String percent(double figure) {
        return String.format(Locale.ROOT, "%.2f", figure);
    }

    static String gigabits(double figure) {
        return String.format(Locale.ROOT, "%.2f", figure);
    }

    /** Three significant digits (0.0412, 1.23, 45.6), whole numbers from 100 ms up. */
    static String millis(double figure) {
        if (figure >= 100) {
            return String.format(Locale.ROOT, "%,.0f", figure);
        }
        if (figure == 0) {
            return "0";
        }
        BigDecimal rounded = new BigDecimal(figure).round(new MathContext(3));
        // Pad back the zeros rounding drops (5 -> 5.00) so every figure shows the same precision.
        int leadingDigitExponent = rounded.precision() - rounded.scale() - 1;
        return rounded.setScale(Math.max(0, 2 - leadingDigitExponent), RoundingMode.HALF_UP).toPlainString();
    }

    /** UDP round trips in µs, in the same three-digit form as milliseconds. */
    static String micros(double figure) {
        return millis(figure);
    }

    static String text(JsonNode meta, String field) {
        return meta.path(field).asText("?");
    }

    /** Path names and free text from the harness go into table cells; a "|" would split the cell. */
    static String cell(String text) {
        return text.replace("|", "\\|");
    }
}

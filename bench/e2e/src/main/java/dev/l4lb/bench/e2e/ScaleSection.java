package dev.l4lb.bench.e2e;

import static dev.l4lb.bench.e2e.ReportCells.blankIfMissing;
import static dev.l4lb.bench.e2e.ReportCells.cell;
import static dev.l4lb.bench.e2e.ReportCells.flags;
import static dev.l4lb.bench.e2e.ReportCells.format;
import static dev.l4lb.bench.e2e.ReportCells.labelled;
import static dev.l4lb.bench.e2e.ReportCells.ratio;
import static dev.l4lb.bench.e2e.ReportCells.wholeNumber;
import static java.util.stream.Collectors.joining;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.OptionalDouble;
import java.util.Set;

/**
 * The report's "Scale" section: new connections per second with N services configured, the time
 * to apply N services, and how long a start with N services takes to be in sync.
 */
final class ScaleSection {
    private static final String APPLY_IPTABLES = "iptables";
    private static final String APPLY_L4LB = "l4lb";

    private final E2eResults results;

    ScaleSection(E2eResults results) {
        this.results = results;
    }

    /** The section, with its heading. */
    String markdown() {
        StringBuilder s = new StringBuilder("## Scale\n\n");
        List<Long> sizes = results.serviceCounts();
        if (sizes.isEmpty()) {
            return s.append("_No figures._\n\n").toString();
        }
        return s.append(scaleNewConnections(sizes)).append(scaleApply(sizes)).append(scaleStartup(sizes)).toString();
    }

    /** New connections/s by path and size, each with its ratio to the same path's figure at the smallest size. */
    private String scaleNewConnections(List<Long> sizes) {
        List<String> paths = results.paths(Set.of("scale_newconn"));
        if (paths.isEmpty()) {
            return "_No new-connection figures by number of services._\n\n";
        }
        long smallest = sizes.get(0);
        StringBuilder s = new StringBuilder("New connections per second (one request per connection) to the measured"
                + " service with N services configured, the N-1 others first. iptables: kube-proxy's iptables"
                + " rules, one KUBE-SERVICES rule per service port walked in order; l4lb-epoll: l4lb with a config,"
                + " one listener per service, reached at its own listener; l4lb-redirect: `lb run --manifests` with"
                + " kube-proxy userspace's REDIRECT portals, one rule per ClusterIP port walked in order, reached at"
                + " the ClusterIP; l4lb-tproxy: `lb run --manifests` with TPROXY portals, a constant rule set to one"
                + " transparent listener that looks the ClusterIP up in a table, reached at the ClusterIP. Medians of"
                + " the runs; in brackets, the path's median over its own with ")
                .append(String.format(Locale.ROOT, "%,d", smallest)).append(smallest == 1 ? " service" : " services")
                .append(" (1.00: flat). Blank where not measured.\n\n")
                .append("| services | ").append(paths.stream().map(path -> cell(path) + " new conn/s").collect(joining(" | ")))
                .append(" | flags |\n")
                .append("|--:|").append("--:|".repeat(paths.size())).append("---|\n");
        for (long services : sizes) {
            s.append("| ").append(String.format(Locale.ROOT, "%,d", services));
            List<String> flags = new ArrayList<>();
            for (String path : paths) {
                List<Measurement> runs = results.scaleRuns("scale_newconn", path, services);
                OptionalDouble median = E2eResults.median(runs, Measurement::value);
                OptionalDouble first = E2eResults.median(results.scaleRuns("scale_newconn", path, smallest),
                        Measurement::value);
                s.append(" | ").append(median.isPresent()
                        ? wholeNumber(median.getAsDouble()) + " (" + ratio(median, first) + ")" : "");
                String flag = labelled(path, flags(runs));
                if (!flag.isEmpty()) {
                    flags.add(flag);
                }
            }
            s.append(" | ").append(String.join("; ", flags)).append(" |\n");
        }
        return s.append('\n').toString();
    }

    /** kube-proxy's rules against l4lb's config: new connections/s and the time to apply N services. */
    private String scaleApply(List<Long> sizes) {
        StringBuilder s = new StringBuilder("The kernel's rules against l4lb's config, with the time to apply that"
                        + " rule set: iptables-restore of kube-proxy's iptables rules, or l4lb building its snapshot."
                        + " Medians of the runs; blank where not measured.\n\n")
                .append("| services | iptables new conn/s | l4lb new conn/s | iptables-restore ms | l4lb snapshot ms | flags |\n")
                .append("|--:|--:|--:|--:|--:|---|\n");
        for (long services : sizes) {
            List<Measurement> iptables = results.scaleRuns("scale_newconn", E2eResults.SCALE_IPTABLES, services);
            List<Measurement> l4lb = results.scaleRuns("scale_newconn", E2eResults.SCALE_L4LB, services);
            String flags = List.of(labelled("iptables", flags(iptables)), labelled("l4lb", flags(l4lb))).stream()
                    .filter(flag -> !flag.isEmpty()).collect(joining("; "));
            s.append("| ").append(String.format(Locale.ROOT, "%,d", services))
                    .append(" | ").append(blankIfMissing(iptables, ReportCells::wholeNumber))
                    .append(" | ").append(blankIfMissing(l4lb, ReportCells::wholeNumber))
                    .append(" | ").append(blankIfMissing(results.scaleRuns("apply", APPLY_IPTABLES, services),
                            ReportCells::millis))
                    .append(" | ").append(blankIfMissing(results.scaleRuns("apply", APPLY_L4LB, services),
                            ReportCells::millis))
                    .append(" | ").append(flags).append(" |\n");
        }
        return s.append('\n').toString();
    }

    /** How long {@code lb run --manifests} took from its start to being in sync with N services, per path. */
    private String scaleStartup(List<Long> sizes) {
        List<String> paths = results.paths(Set.of(E2eResults.SCALE_STARTUP));
        if (paths.isEmpty()) {
            return "";
        }
        StringBuilder s = new StringBuilder("From starting `lb run --manifests` to its \"in sync\" line: the JVM's"
                        + " start, reading the manifests, binding the listeners (one per ClusterIP port under REDIRECT"
                        + " portals, one in all under TPROXY) and writing the portals.\n\n")
                .append("| services | ").append(paths.stream().map(path -> cell(path) + " start to in sync ms")
                        .collect(joining(" | "))).append(" |\n")
                .append("|--:|").append("--:|".repeat(paths.size())).append('\n');
        for (long services : sizes) {
            s.append("| ").append(String.format(Locale.ROOT, "%,d", services));
            for (String path : paths) {
                s.append(" | ").append(blankIfMissing(results.scaleRuns(E2eResults.SCALE_STARTUP, path, services),
                        ReportCells::millis));
            }
            s.append(" |\n");
        }
        return s.append('\n').toString();
    }
}

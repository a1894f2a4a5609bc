package dev.l4lb.netty.cli;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

import picocli.CommandLine.Option;

import dev.l4lb.core.model.HealthCheck;
import dev.l4lb.core.model.HealthPolicy;
import dev.l4lb.core.config.AdminConfig;
import dev.l4lb.core.config.Durations;
import dev.l4lb.core.kube.NodeContext;
import dev.l4lb.core.kube.ProxyPortRange;
import dev.l4lb.core.model.Addresses;
import dev.l4lb.core.model.Cidr;
import dev.l4lb.netty.kube.LocalAddresses;
import dev.l4lb.netty.kube.ProxierRuntime;

/** The options of the userspace proxier, named as kube-proxy names them; shared by {@code lb kube} and {@code lb run --manifests}. */
final class ProxierOptions {
    @Option(names = "--node-name", paramLabel = "NAME",
            description = "This node's name, as EndpointSlices name it (decides which endpoints are local). Default: $NODE_NAME, else the host name.")
    String nodeName;

    @Option(names = "--bind-address", defaultValue = "0.0.0.0", paramLabel = "IP",
            description = "Where proxy listeners are bound. Default: ${DEFAULT-VALUE}.")
    String bindAddress;

    @Option(names = "--proxy-port-range", paramLabel = "FROM-TO",
            description = "Ports for the ClusterIP ports' proxy listeners. Default: ports the kernel picks.")
    String proxyPortRange;

    @Option(names = "--nodeport-addresses", split = ",", paramLabel = "CIDR",
            description = "Serve node ports only on local addresses in these ranges. Default: every local address.")
    List<String> nodePortAddresses = new ArrayList<>();

    @Option(names = "--cluster-cidr", split = ",", paramLabel = "CIDR",
            description = "The cluster's pod ranges. Pods in them, like the node itself, reach every endpoint of an "
                    + "externalTrafficPolicy Local service through its node port or external IPs (kube-proxy's "
                    + "--cluster-cidr); with --iptables, pods calling a Service are connected to its pods from their "
                    + "own address. Default: none; only the node's own addresses.")
    List<String> clusterCidrs = new ArrayList<>();

    @Option(names = "--node-ip", paramLabel = "IP",
            description = "This node's address: the node's own ClusterIP traffic is DNATed there (kube-proxy's host portals), "
                    + "so UDP replies come back from the ClusterIP. Default: the source address of the default route.")
    String nodeIp;

    @Option(names = "--iptables", description = "Program iptables portals (root): ClusterIP:port traffic reaches the proxy.")
    boolean iptables;

    @Option(names = "--health-checks", description = "Check every TCP endpoint with a TCP connect (every 2 s; down after 3 "
            + "failures, up after 2 successes; all down fails open) on top of the EndpointSlices' readiness, which kube-proxy "
            + "trusts alone. Off by default.")
    boolean healthChecks;

    @Option(names = "--portals", defaultValue = "redirect", paramLabel = "MODE",
            description = "With --iptables: redirect (kube-proxy userspace's rules, one per ClusterIP port) or tproxy "
                    + "(a constant rule set: the service CIDRs go to one transparent listener). Default: ${DEFAULT-VALUE}.")
    String portals;

    @Option(names = "--service-cluster-ip-range", split = ",", defaultValue = "10.96.0.0/12", paramLabel = "CIDR",
            description = "The cluster's service CIDRs, which tproxy portals steer whole. Default: ${DEFAULT-VALUE}.")
    List<String> serviceCidrs;

    @Option(names = "--tproxy-listener", defaultValue = "127.0.0.1:15001", paramLabel = "IP:PORT",
            description = "Where the tproxy portals deliver connections. Default: ${DEFAULT-VALUE}.")
    String tproxyListener;

    @Option(names = "--min-sync-period", defaultValue = "1s", paramLabel = "DURATION",
            description = "Changes are applied at most once per this period (kube-proxy's minSyncPeriod). Default: ${DEFAULT-VALUE}.")
    String minSyncPeriod;

    @Option(names = "--sync-period", defaultValue = "30s", paramLabel = "DURATION",
            description = "Everything is applied again at least once per this period (repairs portals). Default: ${DEFAULT-VALUE}.")
    String syncPeriod;

    @Option(names = "--healthz-timeout", defaultValue = "60s", paramLabel = "DURATION",
            description = "/healthz answers 503 when a change has waited longer than this. Default: ${DEFAULT-VALUE}.")
    String healthTimeout;

    @Option(names = "--metrics-bind-address", defaultValue = "127.0.0.1:10249", paramLabel = "IP:PORT",
            description = "Metrics, API and stats page (kube-proxy's address). Default: ${DEFAULT-VALUE}. "
                    + "(lb run --config takes it from the file's admin: section.)")
    String metricsAddress;

    @Option(names = "--healthz-bind-address", defaultValue = "0.0.0.0:10256", paramLabel = "IP:PORT",
            description = "The node's /healthz, which load balancers probe (kube-proxy's address). Default: ${DEFAULT-VALUE}. "
                    + "(lb run --config takes it from the file's admin: section: 127.0.0.1:10256 unless it says.)")
    String healthzAddress;

    /** The admin addresses; throws IllegalArgumentException naming the option that is wrong. */
    AdminConfig admin() {
        return new AdminConfig(hostPort("--metrics-bind-address", metricsAddress), hostPort("--healthz-bind-address", healthzAddress));
    }

    private static InetSocketAddress hostPort(String option, String text) {
        return Addresses.parseHostPort(text).filter(a -> !a.isUnresolved())
                .orElseThrow(() -> new IllegalArgumentException(option + " '" + text + "' is not IP:PORT"));
    }

    /** The proxier's settings; throws IllegalArgumentException naming the option that is wrong. */
    ProxierRuntime.Settings settings() {
        InetAddress bind = ip("--bind-address", bindAddress);
        List<Cidr> nodePorts = cidrs("--nodeport-addresses", nodePortAddresses);
        ProxierRuntime.Portals mode = ProxierRuntime.Portals.OFF;
        if (iptables) {
            mode = switch (portals) {
                case "redirect" -> ProxierRuntime.Portals.REDIRECT;
                case "tproxy" -> ProxierRuntime.Portals.TPROXY;
                default -> throw new IllegalArgumentException("--portals '" + portals + "' is not redirect or tproxy");
            };
        }
        InetSocketAddress transparent = hostPort("--tproxy-listener", tproxyListener);
        NodeContext node = new NodeContext(nodeName != null ? nodeName : hostName(), LocalAddresses.ofThisHost(), nodePorts,
                bind, mode == ProxierRuntime.Portals.TPROXY, cidrs("--cluster-cidr", clusterCidrs));
        return new ProxierRuntime.Settings(node, proxyPortRange == null ? null : ProxyPortRange.parse(proxyPortRange), mode,
                cidrs("--service-cluster-ip-range", serviceCidrs), transparent, nodeIp(mode),
                Addresses.parseIp("0.0.0.0").orElseThrow(), // health check ports, without --nodeport-addresses
                duration("--min-sync-period", minSyncPeriod, true), duration("--sync-period", syncPeriod, false),
                duration("--healthz-timeout", healthTimeout, false), true,
                healthChecks ? new HealthPolicy(Optional.of(HealthCheck.tcpDefaults()), Optional.empty(), true) : HealthPolicy.NONE);
    }

    /** --node-ip, else (with portals) the default route's source address, as kube-proxy picks its node IP. */
    private InetAddress nodeIp(ProxierRuntime.Portals mode) {
        if (nodeIp != null) {
            return ip("--node-ip", nodeIp);
        }
        return mode == ProxierRuntime.Portals.OFF ? null : LocalAddresses.defaultRouteSource();
    }

    private static InetAddress ip(String option, String text) {
        return Addresses.parseIp(text).orElseThrow(() -> new IllegalArgumentException(option + " '" + text + "' is not an IP address"));
    }

    private static List<Cidr> cidrs(String option, List<String> texts) {
        List<Cidr> out = new ArrayList<>();
        for (String text : texts) {
            if (!text.isBlank()) {
                out.add(Cidr.parse(text.trim()).orElseThrow(() ->
                        new IllegalArgumentException(option + " '" + text + "' is not a CIDR such as 10.0.0.0/8")));
            }
        }
        return out;
    }

    private static Duration duration(String option, String text, boolean zeroAllowed) {
        Duration d = Durations.parse(text).orElseThrow(() ->
                new IllegalArgumentException(option + " '" + text + "' is not a duration such as 1s"));
        if (d.isZero() && !zeroAllowed) {
            throw new IllegalArgumentException(option + " must be above 0");
        }
        return d;
    }

    private static String hostName() {
        String env = System.getenv("NODE_NAME");
        if (env != null && !env.isBlank()) {
            return env;
        }
        try {
            return InetAddress.getLocalHost().getHostName();
        } catch (java.net.UnknownHostException e) {
            throw new IllegalArgumentException("cannot tell this host's name; give --node-name", e);
        }
    }
}

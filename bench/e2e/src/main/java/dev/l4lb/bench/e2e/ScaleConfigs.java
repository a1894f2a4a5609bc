package dev.l4lb.bench.e2e;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;

import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;

import dev.l4lb.core.config.BalancerConfig;
import dev.l4lb.core.config.ConfigException;
import dev.l4lb.core.config.ConfigLoader;
import dev.l4lb.core.kube.ClusterObjects;
import dev.l4lb.core.kube.KubeManifests;
import dev.l4lb.core.table.ServiceSnapshot;

/**
 * The same set of services for every side of the scale test: an {@code iptables-restore} file
 * laid out as kube-proxy's iptables mode lays it out, an l4lb config, and the Services and
 * EndpointSlices a cluster would hold (for {@code lb run --manifests}, whose portals are
 * kube-proxy userspace's REDIRECT rules or the constant TPROXY set). N-1 decoy services come
 * first, so a packet to the measured service walks past all of them in KUBE-SERVICES (or
 * KUBE-PORTALS-CONTAINER), as it would in a cluster with N services. The udp phase gets its own
 * pair: one UDP service, alone, so the TCP phases' rule sets and configs stay as they were.
 *
 * <pre>
 * ScaleConfigs iptables N OUT [affinity]   kube-proxy's nat table
 * ScaleConfigs l4lb N OUT                  an l4lb config of the same services
 * ScaleConfigs manifests N OUT             the same services as Kubernetes objects, checked by reading them back
 * ScaleConfigs udp-iptables OUT            kube-proxy's nat table for the UDP service (VIP:11111)
 * ScaleConfigs udp-l4lb OUT                an l4lb config of the same UDP service
 * ScaleConfigs apply-ms CONFIG             median time to build l4lb's snapshot of a config
 * </pre>
 */
public final class ScaleConfigs {
    /** The balancer host's address on the client side, where proxies listen. */
    static final String BALANCER = "198.18.1.1";
    /** The ClusterIP of the measured service. */
    static final String VIP = "198.19.0.10";
    /** The three "pods" on the backend host. */
    static final List<String> PODS = List.of("198.18.2.11", "198.18.2.12", "198.18.2.13");
    /** kube-proxy masquerades traffic to a ClusterIP from outside the pod network. */
    static final String POD_CIDR = "10.244.0.0/16";
    /** The UDP service's port, on the VIP, on the balancer and on the pod (sockperf's default port). */
    static final int UDP_PORT = 11111;
    /** The node the pods' EndpointSlice entries name: the backend host, not the balancer's node. */
    static final String PODS_NODE = "bench-pods";

    private ScaleConfigs() {
    }

    public static void main(String[] args) throws Exception {
        switch (args[0]) {
            case "iptables" -> write(Path.of(args[2]), iptables(Integer.parseInt(args[1]), args.length > 3 && args[3].equals("affinity")));
            case "l4lb" -> write(Path.of(args[2]), l4lb(Integer.parseInt(args[1])));
            case "manifests" -> writeManifests(Integer.parseInt(args[1]), Path.of(args[2]));
            case "udp-iptables" -> write(Path.of(args[1]), udpIptables());
            case "udp-l4lb" -> write(Path.of(args[1]), udpL4lb());
            case "apply-ms" -> System.out.printf(Locale.ROOT, "%.3f%n", applyMillis(Path.of(args[1])));
            default -> throw new IllegalArgumentException("unknown mode " + args[0]);
        }
    }

    /** kube-proxy's nat rules for N services: N-1 decoys, then http (VIP:80) and bulk (VIP:5201). */
    static String iptables(int services, boolean affinity) {
        StringBuilder rules = new StringBuilder(services * 900);
        StringBuilder chains = new StringBuilder(services * 120);
        natHeader(chains, rules);
        for (int i = 0; i < services - 1; i++) {
            service(chains, rules, "decoy/svc-" + i + ":http", "tcp", decoyVip(i), 80, List.of(decoyPod(i)), 80, affinity);
        }
        service(chains, rules, "bench/web:http", "tcp", VIP, 80, PODS, 80, affinity);
        service(chains, rules, "bench/bulk:iperf", "tcp", VIP, 5201, PODS.subList(0, 1), 5201, affinity);
        return chains.append(rules).append("COMMIT\n").toString();
    }

    /** The i-th decoy's ClusterIP: 198.19.1.1 onwards, 250 to a /24, clear of the VIP (198.19.0.10). */
    private static String decoyVip(int i) {
        return "198.19." + (1 + i / 250) + "." + (1 + i % 250);
    }

    /** The i-th decoy's one pod, which no path ever reaches: only the measured service gets traffic. */
    private static String decoyPod(int i) {
        return "198.20." + (i / 250) + "." + (1 + i % 250);
    }

    /** kube-proxy's nat rules for one UDP service (VIP:11111) with one pod, as it lays out a DNS-like service. */
    static String udpIptables() {
        StringBuilder rules = new StringBuilder(2048);
        StringBuilder chains = new StringBuilder(512);
        natHeader(chains, rules);
        service(chains, rules, "bench/sockperf:udp", "udp", VIP, UDP_PORT, PODS.subList(0, 1), UDP_PORT, false);
        return chains.append(rules).append("COMMIT\n").toString();
    }

    /** The nat table's built-in chains, kube-proxy's own chains and the rules that lead into them. */
    private static void natHeader(StringBuilder chains, StringBuilder rules) {
        chains.append("*nat\n")
                .append(":PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n")
                .append(":KUBE-SERVICES - [0:0]\n:KUBE-MARK-MASQ - [0:0]\n:KUBE-POSTROUTING - [0:0]\n");
        rules.append("-A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES\n")
                .append("-A OUTPUT -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES\n")
                .append("-A POSTROUTING -m comment --comment \"kubernetes postrouting rules\" -j KUBE-POSTROUTING\n")
                .append("-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000\n")
                .append("-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN\n")
                .append("-A KUBE-POSTROUTING -j MARK --set-xmark 0x4000/0x0\n")
                .append("-A KUBE-POSTROUTING -m comment --comment \"kubernetes service traffic requiring SNAT\" -j MASQUERADE --random-fully\n");
    }

    /** One service port's chains; {@code protocol} is iptables' name for it: tcp or udp. */
    private static void service(StringBuilder chains, StringBuilder rules, String name, String protocol, String vip,
                                int port, List<String> pods, int targetPort, boolean affinity) {
        String svc = "KUBE-SVC-" + hash(name + protocol);
        chains.append(':').append(svc).append(" - [0:0]\n");
        rules.append("-A KUBE-SERVICES -d ").append(vip).append("/32 -p ").append(protocol)
                .append(" -m comment --comment \"").append(name).append(" cluster IP\" -m ").append(protocol)
                .append(" --dport ").append(port).append(" -j ").append(svc).append('\n');
        rules.append("-A ").append(svc).append(" ! -s ").append(POD_CIDR).append(" -d ").append(vip)
                .append("/32 -p ").append(protocol).append(" -m comment --comment \"").append(name)
                .append(" cluster IP\" -m ").append(protocol).append(" --dport ")
                .append(port).append(" -j KUBE-MARK-MASQ\n");
        String[] seps = new String[pods.size()];
        for (int e = 0; e < pods.size(); e++) {
            seps[e] = "KUBE-SEP-" + hash(name + protocol + pods.get(e) + ":" + targetPort);
            chains.append(':').append(seps[e]).append(" - [0:0]\n");
        }
        if (affinity) {
            // A client seen recently by an endpoint goes back to it (kube-proxy's ClientIP affinity).
            for (String sep : seps) {
                rules.append("-A ").append(svc).append(" -m comment --comment \"").append(name)
                        .append("\" -m recent --name ").append(sep).append(" --mask 255.255.255.255 --rsource --rcheck")
                        .append(" --seconds 10800 --reap -j ").append(sep).append('\n');
            }
        }
        for (int e = 0; e < pods.size(); e++) {
            rules.append("-A ").append(svc).append(" -m comment --comment \"").append(name).append(" -> ")
                    .append(pods.get(e)).append(':').append(targetPort).append('"');
            int left = pods.size() - e;
            if (left > 1) {
                // kube-proxy's even spread: the first of n rules takes 1/n, the next 1/(n-1) of the rest...
                rules.append(String.format(Locale.ROOT, " -m statistic --mode random --probability %.11f", 1.0 / left));
            }
            rules.append(" -j ").append(seps[e]).append('\n');
        }
        for (int e = 0; e < pods.size(); e++) {
            String pod = pods.get(e);
            rules.append("-A ").append(seps[e]).append(" -s ").append(pod).append("/32 -m comment --comment \"")
                    .append(name).append("\" -j KUBE-MARK-MASQ\n");
            rules.append("-A ").append(seps[e]).append(" -p ").append(protocol).append(" -m comment --comment \"")
                    .append(name).append('"');
            if (affinity) {
                rules.append(" -m recent --set --name ").append(seps[e]).append(" --mask 255.255.255.255 --rsource");
            }
            rules.append(" -m ").append(protocol).append(" -j DNAT --to-destination ").append(pod).append(':')
                    .append(targetPort).append('\n');
        }
    }

    /** The same services for l4lb: decoys on ports 20000+, then web (8080), bulk (5201), echo (9000). */
    static String l4lb(int services) {
        StringBuilder yaml = new StringBuilder(services * 160).append("services:\n");
        for (int i = 0; i < services - 1; i++) {
            port(yaml, "decoy/svc-" + i, BALANCER + ":" + (20000 + i), List.of(decoyPod(i) + ":80"));
        }
        port(yaml, "bench/web", BALANCER + ":8080", PODS.stream().map(p -> p + ":80").toList());
        port(yaml, "bench/bulk", BALANCER + ":5201", List.of(PODS.get(0) + ":5201"));
        port(yaml, "bench/echo", BALANCER + ":9000", PODS.stream().map(p -> p + ":9000").toList());
        return yaml.toString();
    }

    /**
     * The same services as a cluster holds them: N-1 decoys (port http 80 to one pod, the iptables
     * layout's ClusterIPs and pods), then bench/web (VIP:80 to the three pods' port 80), each a
     * ClusterIP Service with one EndpointSlice, in one multi-document YAML file. The proxier writes
     * its REDIRECT portals in the order of namespace/name, so the decoys are bench/decoy-i, which
     * sort before bench/web: its rule comes last, as the measured service's does in KUBE-SERVICES.
     */
    static String manifests(int services) {
        StringBuilder yaml = new StringBuilder(services * 700)
                .append("# ").append(services).append(" Services with their EndpointSlices (ScaleConfigs manifests)\n");
        for (int i = 0; i < services - 1; i++) {
            kubeService(yaml, "bench", "decoy-" + i, decoyVip(i), List.of(decoyPod(i)));
        }
        kubeService(yaml, "bench", "web", VIP, PODS);
        return yaml.toString();
    }

    private static void kubeService(StringBuilder yaml, String namespace, String name, String clusterIp, List<String> pods) {
        yaml.append("---\n")
                .append("apiVersion: v1\nkind: Service\n")
                .append("metadata:\n  name: ").append(name).append("\n  namespace: ").append(namespace).append('\n')
                .append("spec:\n  type: ClusterIP\n  clusterIP: ").append(clusterIp)
                .append("\n  clusterIPs: [").append(clusterIp).append("]\n")
                .append("  ports:\n    - name: http\n      port: 80\n      protocol: TCP\n      targetPort: 80\n")
                .append("---\n")
                .append("apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n")
                // The endpoint slice controller's naming: the Service's name and a random suffix.
                .append("metadata:\n  name: ").append(name).append('-').append(hash(namespace + "/" + name).substring(0, 5).toLowerCase(Locale.ROOT))
                .append("\n  namespace: ").append(namespace)
                .append("\n  labels:\n    kubernetes.io/service-name: ").append(name).append('\n')
                .append("addressType: IPv4\n")
                .append("ports:\n  - name: http\n    port: 80\n    protocol: TCP\n")
                .append("endpoints:\n");
        for (String pod : pods) {
            yaml.append("  - addresses: [\"").append(pod).append("\"]\n")
                    .append("    nodeName: ").append(PODS_NODE).append('\n')
                    .append("    conditions: {ready: true, serving: true, terminating: false}\n");
        }
    }

    /**
     * Writes {@link #manifests} and reads the file back as {@code lb run --manifests} does, so a
     * file the balancer would refuse (or read differently) fails here, not minutes into a run.
     */
    private static void writeManifests(int services, Path out) throws IOException, ConfigException {
        write(out, manifests(services));
        ClusterObjects read = KubeManifests.load(List.of(out));
        if (read.services().size() != services || read.slices().size() != services) {
            throw new IllegalStateException(out + ": wrote " + services + " Services and EndpointSlices, read back "
                    + read.services().size() + " and " + read.slices().size());
        }
        Service web = read.services().get(services - 1);
        EndpointSlice slice = read.slices().get(services - 1);
        List<String> addresses = slice.getEndpoints().stream().flatMap(e -> e.getAddresses().stream()).toList();
        if (!web.getSpec().getClusterIP().equals(VIP) || !addresses.equals(PODS)) {
            throw new IllegalStateException(out + ": the measured service reads back as " + web.getSpec().getClusterIP()
                    + " -> " + addresses + ", not " + VIP + " -> " + PODS);
        }
        String last = read.services().stream().map(s -> s.getMetadata().getNamespace() + "/" + s.getMetadata().getName())
                .max(Comparator.naturalOrder()).orElseThrow();
        if (!last.equals("bench/web")) {
            throw new IllegalStateException(out + ": " + last + " sorts after bench/web, so its portal would come after"
                    + " the measured service's");
        }
    }

    /** The UDP service alone: sessions per client address and port, the default idle timeout (10 s). */
    static String udpL4lb() {
        StringBuilder yaml = new StringBuilder(256).append("services:\n");
        port(yaml, "bench/sockperf", "UDP", BALANCER + ":" + UDP_PORT, List.of(PODS.get(0) + ":" + UDP_PORT));
        return yaml.toString();
    }

    private static void port(StringBuilder yaml, String name, String listen, List<String> endpoints) {
        port(yaml, name, "TCP", listen, endpoints);
    }

    private static void port(StringBuilder yaml, String name, String protocol, String listen, List<String> endpoints) {
        yaml.append("  - name: ").append(name).append('\n')
                .append("    ports:\n")
                .append("      - listen: [\"").append(listen).append("\"]\n");
        if (!protocol.equals("TCP")) {
            yaml.append("        protocol: ").append(protocol).append('\n');
        }
        yaml.append("        endpoints: [");
        for (int i = 0; i < endpoints.size(); i++) {
            yaml.append(i == 0 ? "\"" : ", \"").append(endpoints.get(i)).append('"');
        }
        yaml.append("]\n");
    }

    /** Median of five builds of the snapshot for a config (the config parsed once, beforehand). */
    static double applyMillis(Path config) throws ConfigException {
        BalancerConfig parsed = ConfigLoader.load(config);
        double[] runs = new double[5];
        for (int i = 0; i < runs.length; i++) {
            long start = System.nanoTime();
            ServiceSnapshot.build(parsed.services(), ServiceSnapshot.empty());
            runs[i] = (System.nanoTime() - start) / 1e6;
        }
        Arrays.sort(runs);
        return runs[runs.length / 2];
    }

    /** kube-proxy names chains by a hash of the service port (and endpoint): 16 characters of it. */
    private static String hash(String text) {
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().withUpperCase().formatHex(digest, 0, 8);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void write(Path out, String text) throws IOException {
        Files.writeString(out, text, StandardCharsets.UTF_8);
    }
}

package dev.l4lb.core.kube;

import java.net.InetAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;

import io.fabric8.kubernetes.api.model.LoadBalancerIngress;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceSpec;
import org.jspecify.annotations.Nullable;

import dev.l4lb.core.model.Addresses;
import dev.l4lb.core.model.Cidr;
import dev.l4lb.core.model.PortPolicy;
import dev.l4lb.core.model.Protocol;

/**
 * The first stage of {@link ClusterServices}: one Service's spec read once for all its ports, as
 * it applies on this node, or the reason it is not proxied at all.
 *
 * @param qualified       {@code namespace/name}, which skip reasons and rule comments start with
 * @param type            spec.type; null when unset (ClusterIP)
 * @param clusterIps      the ClusterIPs; empty for a manifest read offline, which has none yet
 * @param clientIp        sessionAffinity ClientIP
 * @param affinityTimeout the ClientIP affinity timeout in seconds
 * @param internalLocal   internalTrafficPolicy Local
 * @param externalLocal   externalTrafficPolicy Local
 * @param sourceRanges    loadBalancerSourceRanges, with this node's own load-balancer IPs when the
 *                        ranges admit the node
 * @param externalIps     the externalIPs this node owns
 * @param ingressIps      the VIP-mode load-balancer IPs this node owns
 * @param ports           spec.ports as the API gives them; {@link #port} reads one
 * @param sourceIp        what its pods see as the client's address ({@value SourceIp#ANNOTATION})
 */
record NodeServiceSpec(String qualified, String namespace, String name, @Nullable String type, List<InetAddress> clusterIps,
                       boolean clientIp, int affinityTimeout, boolean internalLocal, boolean externalLocal,
                       List<Cidr> sourceRanges, List<InetAddress> externalIps, List<InetAddress> ingressIps,
                       @Nullable Integer healthCheckNodePort, List<io.fabric8.kubernetes.api.model.ServicePort> ports,
                       SourceIp sourceIp) {

    NodeServiceSpec {
        clusterIps = List.copyOf(clusterIps);
        sourceRanges = List.copyOf(sourceRanges);
        externalIps = List.copyOf(externalIps);
        ingressIps = List.copyOf(ingressIps);
        ports = List.copyOf(ports);
    }

    /**
     * One Service port whose protocol and number can be served.
     *
     * @param name         spec.ports[].name; empty when unnamed (a Service with one port)
     * @param label        {@code namespace/name:port}, for skip reasons, portals and claims
     * @param protocolText the protocol as the API spells it, which EndpointSlice ports are matched by
     * @param nodePort     the node port; null when it has none
     */
    record Port(String name, String label, Protocol protocol, String protocolText, int port, @Nullable Integer nodePort) {
    }

    /**
     * {@code service} as this node serves it; empty, with the reason given to {@code skipped}, when
     * nothing of it is proxied (no spec, ExternalName, headless, a ClusterIP that is no address).
     */
    static Optional<NodeServiceSpec> read(Service service, NodeContext node, Consumer<String> skipped) {
        return read(service, node, skipped, skipped);
    }

    /**
     * {@code service} as this node serves it; the parts of it left out while the rest is served
     * (a source range that is no CIDR, an annotation value that means nothing) go to {@code ignored}.
     */
    static Optional<NodeServiceSpec> read(Service service, NodeContext node, Consumer<String> skipped,
                                          Consumer<String> ignored) {
        String qualified = ClusterServices.qualifiedName(service);
        ServiceSpec spec = service.getSpec();
        if (spec == null) {
            skipped.accept(qualified + ": no spec");
            return Optional.empty();
        }
        if ("ExternalName".equals(spec.getType())) {
            skipped.accept(qualified + ": type ExternalName is a DNS alias, nothing to proxy");
            return Optional.empty();
        }
        List<String> clusterIpTexts = spec.getClusterIPs() != null && !spec.getClusterIPs().isEmpty()
                ? spec.getClusterIPs() : spec.getClusterIP() == null ? List.of() : List.of(spec.getClusterIP());
        if (clusterIpTexts.isEmpty() || clusterIpTexts.get(0).isEmpty()) {
            // A manifest read offline has no clusterIP (the API server allocates it): the Service is
            // still served on its proxy listener and node ports, with no portal.
            clusterIpTexts = List.of();
        } else if ("None".equals(clusterIpTexts.get(0))) {
            skipped.accept(qualified + ": headless (clusterIP None), clients reach the pods directly");
            return Optional.empty();
        }
        List<InetAddress> clusterIps = new ArrayList<>();
        for (String text : clusterIpTexts) {
            Optional<InetAddress> ip = Addresses.parseIp(text);
            if (ip.isEmpty()) {
                skipped.accept(qualified + ": clusterIP " + text + " is not an IP address");
                return Optional.empty();
            }
            clusterIps.add(ip.get());
        }
        List<Cidr> sourceRanges = new ArrayList<>();
        for (String range : orEmpty(spec.getLoadBalancerSourceRanges())) {
            Cidr.parse(range.trim()).ifPresentOrElse(sourceRanges::add,
                    () -> ignored.accept(qualified + ": loadBalancerSourceRanges entry " + range + " is not a CIDR, ignored"));
        }
        List<InetAddress> ingressIps = localIps(ingressIps(service), node);
        // The node reaches its own load-balancer IP with that IP as source; kube-proxy lets it
        // through when the ranges admit the node (proxier.go, allowFromNode).
        if (node.localAddresses().stream().anyMatch(address -> Cidr.anyContains(sourceRanges, address))) {
            for (InetAddress ip : ingressIps) {
                sourceRanges.add(new Cidr(ip, ip.getAddress().length * 8));
            }
        }
        return Optional.of(new NodeServiceSpec(qualified, ClusterServices.namespaceOf(service.getMetadata()),
                service.getMetadata().getName(), spec.getType(), clusterIps, "ClientIP".equals(spec.getSessionAffinity()),
                affinityTimeout(spec), "Local".equals(spec.getInternalTrafficPolicy()),
                "Local".equals(spec.getExternalTrafficPolicy()), sourceRanges,
                localIps(orEmpty(spec.getExternalIPs()), node), ingressIps, spec.getHealthCheckNodePort(),
                orEmpty(spec.getPorts()), sourceIp(service, qualified, ignored)));
    }

    /**
     * The {@value SourceIp#ANNOTATION} annotation's choice, {@code transparent} when it is absent;
     * a value it does not know is reported and taken as absent (a typo must not take the Service away).
     */
    private static SourceIp sourceIp(Service service, String qualified, Consumer<String> ignored) {
        Map<String, String> annotations = service.getMetadata().getAnnotations();
        String value = annotations == null ? null : annotations.get(SourceIp.ANNOTATION);
        if (value == null) {
            return SourceIp.TRANSPARENT;
        }
        Optional<SourceIp> choice = SourceIp.parse(value);
        if (choice.isEmpty()) {
            ignored.accept(qualified + ": annotation " + SourceIp.ANNOTATION + ": \"" + value
                    + "\" is not transparent, proxy-v2 or none; taken as transparent");
        }
        return choice.orElse(SourceIp.TRANSPARENT);
    }

    /**
     * spec.ports[index], when TCP or UDP with a number in range; else empty, with the reason given
     * to {@code skipped}.
     */
    Optional<Port> port(int index, Consumer<String> skipped) {
        io.fabric8.kubernetes.api.model.ServicePort port = ports.get(index);
        String portName = port.getName() == null ? "" : port.getName();
        String label = qualified + (portName.isEmpty() ? ":" + port.getPort() : ":" + portName);
        String protocolText = port.getProtocol() == null ? "TCP" : port.getProtocol();
        Protocol protocol;
        switch (protocolText) {
            case "TCP" -> protocol = Protocol.TCP;
            case "UDP" -> protocol = Protocol.UDP;
            default -> {
                skipped.accept(label + ": protocol " + protocolText + " is not proxied (TCP and UDP are)");
                return Optional.empty();
            }
        }
        if (port.getPort() == null || port.getPort() < 1 || port.getPort() > 65535) {
            skipped.accept(label + ": spec.ports[" + index + "].port must be 1..65535");
            return Optional.empty();
        }
        return Optional.of(new Port(portName, label, protocol, protocolText, port.getPort(), port.getNodePort()));
    }

    /** NodePort and LoadBalancer Services have node ports; the others do not. */
    boolean hasNodePorts() {
        return hasNodePorts(type);
    }

    boolean loadBalancer() {
        return "LoadBalancer".equals(type);
    }

    static boolean hasNodePorts(@Nullable String type) {
        return "NodePort".equals(type) || "LoadBalancer".equals(type);
    }

    /** The load-balancer ingress IPs that traffic arrives at as they are (ipMode VIP or unset). */
    static List<String> ingressIps(Service service) {
        if (service.getStatus() == null || service.getStatus().getLoadBalancer() == null) {
            return List.of();
        }
        List<String> ips = new ArrayList<>();
        for (LoadBalancerIngress ingress : orEmpty(service.getStatus().getLoadBalancer().getIngress())) {
            // ipMode Proxy: the load balancer proxies to the node ports itself, and traffic for
            // its IP must not be short-cut on the node (kube-proxy's IsVIPMode).
            boolean vip = ingress.getIpMode() == null || "VIP".equals(ingress.getIpMode());
            if (vip && ingress.getIp() != null && !ingress.getIp().isEmpty()) {
                ips.add(ingress.getIp());
            }
        }
        return ips;
    }

    /** sessionAffinityConfig.clientIP.timeoutSeconds, Kubernetes' 10800 when unset; the API bounds it to 1..86400. */
    private static int affinityTimeout(ServiceSpec spec) {
        Integer seconds = spec.getSessionAffinityConfig() == null || spec.getSessionAffinityConfig().getClientIP() == null
                ? null : spec.getSessionAffinityConfig().getClientIP().getTimeoutSeconds();
        if (seconds == null || seconds < 1) {
            return PortPolicy.DEFAULT_AFFINITY_TIMEOUT_SECONDS;
        }
        return Math.min(seconds, PortPolicy.MAX_AFFINITY_TIMEOUT_SECONDS);
    }

    /** The addresses among these that this node owns: only those reach it, as the portals would capture them. */
    private static List<InetAddress> localIps(List<String> texts, NodeContext node) {
        List<InetAddress> local = new ArrayList<>();
        for (String text : texts) {
            Addresses.parseIp(text.trim()).filter(node::isLocal).filter(ip -> !local.contains(ip)).ifPresent(local::add);
        }
        return local;
    }

    static <T> List<T> orEmpty(List<T> list) {
        return list == null ? List.of() : list;
    }
}

package dev.l4lb.core.kube;

import java.net.InetAddress;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;

import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import org.jspecify.annotations.Nullable;

import dev.l4lb.core.model.Cidr;
import dev.l4lb.core.model.Endpoint;
import dev.l4lb.core.model.PortPolicy;
import dev.l4lb.core.model.Protocol;
import dev.l4lb.core.model.ProxyProtocol;
import dev.l4lb.core.model.Service;
import dev.l4lb.core.model.ServicePort;
import dev.l4lb.core.model.SessionAffinity;
import dev.l4lb.core.model.ShortCircuit;
import dev.l4lb.core.model.UpstreamSource;

/**
 * Reads the cluster's v1 Services and discovery/v1 EndpointSlices the way kube-proxy does and says
 * what they mean on one node ({@link ProxierPlan}). Both sources of Kubernetes objects, the API
 * watch and manifest files, go through here, so they cannot disagree.
 *
 * <p>Each Service port becomes up to three balancer ports, one per kind of traffic, because each
 * kind may use other endpoints: ClusterIP traffic (internalTrafficPolicy), node port and
 * externalIP traffic (externalTrafficPolicy) and load-balancer IP traffic (externalTrafficPolicy
 * and loadBalancerSourceRanges). Kinds that end up with the same endpoints and ranges share one
 * port, and so one ClientIP table. Under externalTrafficPolicy Local the external kinds hand
 * clients on the node itself and in its pods (the {@link NodeContext#clusterCidrs() cluster
 * CIDRs}) to a port with every endpoint, as kube-proxy does: the ClusterIP port when it has them
 * all, else a port without listeners, {@code name/cluster}.
 *
 * <p>Each Service goes through four stages, each testable on its own: its spec as it applies on
 * this node ({@link NodeServiceSpec}); per port, its endpoints and which of them each policy uses
 * ({@link PortEndpoints}); its ClusterIP kind, a proxy listener with portals or intercepted
 * ClusterIPs ({@link ProxyListeners}); its other kinds of traffic, merged, claimed, and their short
 * circuit ({@link TrafficKinds}). This class only runs them in order and builds the ports.
 */
public final class ClusterServices {
    /** The Node label that names its zone, which topology hints refer to. */
    public static final String ZONE_LABEL = "topology.kubernetes.io/zone";
    /** The label that ties an EndpointSlice to its Service. */
    public static final String SERVICE_NAME_LABEL = "kubernetes.io/service-name";

    private ClusterServices() {
    }

    /**
     * What these objects mean on {@code node}.
     *
     * @param proxyPorts hands out the proxy listener ports of ClusterIP ports; ports of Service
     *                   ports that are gone are released
     */
    public static ProxierPlan translate(ClusterObjects objects, NodeContext node, ProxyPorts proxyPorts) {
        Node self = objects.node(node.nodeName());
        return translate(objects.services(), objects.slices(), node, self == null ? "" : zoneOf(self),
                self == null ? List.of() : podCidrsOf(self), proxyPorts);
    }

    /**
     * What these objects mean on {@code node}, in {@code zone} (its {@value #ZONE_LABEL} label;
     * empty when it has none).
     *
     * @param proxyPorts hands out the proxy listener ports of ClusterIP ports; ports of Service
     *                   ports that are gone are released
     */
    private static ProxierPlan translate(Collection<io.fabric8.kubernetes.api.model.Service> services,
                                        Collection<EndpointSlice> slices, NodeContext node, String zone,
                                        List<Cidr> nodePods, ProxyPorts proxyPorts) {
        Map<String, List<EndpointSlice>> slicesByService = new HashMap<>();
        for (EndpointSlice slice : slices) {
            String owner = serviceOf(slice);
            if (owner != null && !"FQDN".equals(slice.getAddressType())) {
                slicesByService.computeIfAbsent(owner, k -> new ArrayList<>()).add(slice);
            }
        }
        List<io.fabric8.kubernetes.api.model.Service> sorted = new ArrayList<>(services);
        // The oldest Service first, so that when two claim one address:port the older keeps it;
        // objects without a creation time (manifests) by name.
        sorted.sort(Comparator.comparing(ClusterServices::createdAt).thenComparing(ClusterServices::qualifiedName));
        Plan plan = new Plan(node, zone, nodePods, proxyPorts);
        plan.claims.reserveFixedPorts(sorted);
        for (io.fabric8.kubernetes.api.model.Service service : sorted) {
            plan.add(service, slicesByService.getOrDefault(qualifiedName(service), List.of()));
        }
        plan.proxyListeners.releaseUnused();
        return new ProxierPlan(plan.services, plan.proxyListeners.portals(), plan.health, plan.skipped, plan.ignored);
    }

    /** A Node's {@value #ZONE_LABEL} label; empty when it has none. */
    public static String zoneOf(Node node) {
        Map<String, String> labels = node.getMetadata() == null ? null : node.getMetadata().getLabels();
        return labels == null ? "" : labels.getOrDefault(ZONE_LABEL, "");
    }

    /** A Node's spec.podCIDRs (else its podCIDR) that are CIDRs; empty when it has none. */
    public static List<Cidr> podCidrsOf(Node node) {
        if (node.getSpec() == null) {
            return List.of();
        }
        List<String> texts = node.getSpec().getPodCIDRs() != null && !node.getSpec().getPodCIDRs().isEmpty()
                ? node.getSpec().getPodCIDRs()
                : node.getSpec().getPodCIDR() == null ? List.of() : List.of(node.getSpec().getPodCIDR());
        return texts.stream().map(t -> Cidr.parse(t.trim())).flatMap(Optional::stream).toList();
    }

    /** {@code namespace/name} of the Service an EndpointSlice belongs to, or null when unlabelled. */
    public static @Nullable String serviceOf(EndpointSlice slice) {
        Map<String, String> labels = slice.getMetadata() == null ? null : slice.getMetadata().getLabels();
        String name = labels == null ? null : labels.get(SERVICE_NAME_LABEL);
        return name == null ? null : namespaceOf(slice.getMetadata()) + "/" + name;
    }

    /** One translation: the stages' state and what they produced so far, Service by Service. */
    private static final class Plan {
        final NodeContext node;
        final String zone;
        /** This node's own pod ranges (its Node's spec.podCIDRs); empty when not known. */
        final List<Cidr> nodePods;
        final List<Service> services = new ArrayList<>();
        final List<ServiceHealth> health = new ArrayList<>();
        final List<String> skipped = new ArrayList<>();
        final List<String> ignored = new ArrayList<>();
        final AddressClaims claims = new AddressClaims(skipped::add);
        final ProxyListeners proxyListeners;

        Plan(NodeContext node, String zone, List<Cidr> nodePods, ProxyPorts proxyPorts) {
            this.node = node;
            this.zone = zone;
            this.nodePods = nodePods;
            this.proxyListeners = new ProxyListeners(node, proxyPorts, claims, skipped::add);
        }

        /**
         * The pods whose own address their connections keep: this node's (its Node's podCIDRs;
         * a pod of another node reaching a node port here gets its replies through its own
         * node, not this one), else the cluster's when the Node does not say.
         */
        List<Cidr> pods() {
            return nodePods.isEmpty() ? node.clusterCidrs() : nodePods;
        }

        /** One Service: its balancer ports, and its health check node port under externalTrafficPolicy Local. */
        void add(io.fabric8.kubernetes.api.model.Service service, List<EndpointSlice> slices) {
            Optional<NodeServiceSpec> read = NodeServiceSpec.read(service, node, skipped::add, ignored::add);
            if (read.isEmpty()) {
                return;
            }
            NodeServiceSpec spec = read.get();
            List<ServicePort> ports = new ArrayList<>();
            Set<InetAddress> localReady = new HashSet<>();
            for (int index = 0; index < spec.ports().size(); index++) {
                spec.port(index, skipped::add).ifPresent(port -> ports.addAll(add(spec, port, slices, localReady)));
            }
            if (!ports.isEmpty()) {
                services.add(new Service(spec.namespace(), spec.name(), ports));
            }
            Integer healthPort = spec.healthCheckNodePort();
            if (spec.externalLocal() && healthPort != null && healthPort > 0 && healthPort <= 65535) {
                // A dual-stack pod has an address in each family's slice: count pods, not addresses.
                long v4 = localReady.stream().filter(a -> a instanceof java.net.Inet4Address).count();
                health.add(new ServiceHealth(spec.namespace(), spec.name(), healthPort,
                        (int) Math.max(v4, localReady.size() - v4)));
            }
        }

        /**
         * The balancer ports of one Service port, one per kind of traffic left after merging and
         * claiming; adds its ready local endpoints to {@code localReady}.
         */
        private List<ServicePort> add(NodeServiceSpec spec, NodeServiceSpec.Port port, List<EndpointSlice> slices,
                                      Set<InetAddress> localReady) {
            PortEndpoints endpoints = PortEndpoints.read(slices, port.name(), port.protocolText());
            localReady.addAll(endpoints.readyOn(node.nodeName()));
            Optional<TrafficKind> cluster = proxyListeners.clusterTraffic(spec, port);
            if (cluster.isEmpty()) {
                return List.of();
            }
            List<TrafficKind> claimed = TrafficKinds.claim(TrafficKinds.of(spec, port, cluster.get(), node),
                    port.protocol(), port.label(), claims);
            // Cluster traffic policy takes topology into account; Local does not (kube-proxy's CategorizeEndpoints).
            List<Endpoint> clusterEndpoints = endpoints.forCluster(node.nodeName(), zone);
            Optional<ShortCircuit> inside = TrafficKinds.shortCircuit(claimed, port.name(), node);
            PortPolicy policy = policy(port.protocol(), spec, List.of());
            List<ServicePort> ports = new ArrayList<>();
            for (TrafficKind traffic : claimed) {
                List<Endpoint> chosen = traffic.localOnly() ? endpoints.onNode(node.nodeName()) : clusterEndpoints;
                PortPolicy trafficPolicy = traffic.sourceRanges().isEmpty() ? policy
                        : policy(port.protocol(), spec, traffic.sourceRanges());
                trafficPolicy = trafficPolicy.withUpstreamSource(upstreamSource(spec, port.protocol(), traffic, pods()));
                ports.add(new ServicePort(port.name() + traffic.suffix(), port.protocol(), traffic.listen(), 0,
                        trafficPolicy, chosen, traffic.intercepted(), traffic.shortCircuits() ? inside : Optional.empty()));
            }
            // No kind serves every client with every endpoint: a port without listeners does.
            String hidden = port.name() + TrafficKinds.CLUSTER_SUFFIX;
            if (inside.isPresent() && inside.get().port().equals(hidden)) {
                ports.add(new ServicePort(hidden, port.protocol(), List.of(), 0,
                        policy.withUpstreamSource(podsKeepTheirAddress(spec, port.protocol(), pods())), clusterEndpoints));
            }
            return ports;
        }
    }

    /**
     * Whose address a kind's endpoints see, as kube-proxy's kernel modes decide it: from outside
     * the cluster under externalTrafficPolicy Local, the client's (the reason the policy exists);
     * node port, externalIP and load-balancer traffic under Cluster, the node's (masqueraded);
     * ClusterIP traffic from this node's pods, the pod's own (kube-proxy masquerades ClusterIP
     * traffic only from outside its local-traffic ranges).
     */
    private static UpstreamSource upstreamSource(NodeServiceSpec spec, Protocol protocol, TrafficKind traffic, List<Cidr> pods) {
        if (traffic.external() && traffic.localOnly()) {
            // Node and pod clients are handed to another port (the short circuit): all left are from outside.
            return spec.sourceIp() == SourceIp.TRANSPARENT && protocol == Protocol.TCP
                    ? UpstreamSource.client(List.of()) : UpstreamSource.BALANCER;
        }
        if (traffic.external()) {
            return UpstreamSource.BALANCER;
        }
        // A ClusterIP kind, which may also serve node ports merged into it: only pods keep their address.
        return podsKeepTheirAddress(spec, protocol, pods);
    }

    /**
     * The pods in {@code pods} (this node's, {@link Plan#pods}) connected from their own address.
     * Without ranges nothing tells a pod from an outside client, and every client is connected
     * from the node. UDP keeps the node's address: its sessions are not transparent yet.
     */
    private static UpstreamSource podsKeepTheirAddress(NodeServiceSpec spec, Protocol protocol, List<Cidr> pods) {
        if (spec.sourceIp() != SourceIp.TRANSPARENT || protocol != Protocol.TCP || pods.isEmpty()) {
            return UpstreamSource.BALANCER;
        }
        return UpstreamSource.client(pods);
    }

    private static PortPolicy policy(Protocol protocol, NodeServiceSpec spec, List<Cidr> sourceRanges) {
        PortPolicy defaults = PortPolicy.defaults();
        boolean udp = protocol == Protocol.UDP;
        // proxy-v2: every connection starts with the header, whichever way it came: a pod that
        // reads PROXY headers fails on a connection without one. UDP ports send none (l4lb's PROXY is TCP's).
        ProxyProtocol header = spec.sourceIp() == SourceIp.PROXY_V2 && !udp ? ProxyProtocol.V2 : defaults.proxyProtocol();
        return new PortPolicy(defaults.scheduler(), spec.clientIp() ? SessionAffinity.CLIENT_IP : SessionAffinity.NONE,
                spec.affinityTimeout(), defaults.sessionAffinityMaxEntries(), header, false,
                defaults.acceptProxyProtocol(), sourceRanges, defaults.connectTimeout(),
                udp ? PortPolicy.DEFAULT_UDP_IDLE_TIMEOUT : defaults.idleTimeout(),
                udp ? PortPolicy.DEFAULT_UDP_MAX_SESSIONS : defaults.maxConnections());
    }

    /** RFC 3339 creation time, which sorts as text; none (a manifest's object) after every real one. */
    private static String createdAt(io.fabric8.kubernetes.api.model.Service service) {
        String created = service.getMetadata() == null ? null : service.getMetadata().getCreationTimestamp();
        return created == null || created.isEmpty() ? "~" : created;
    }

    static String qualifiedName(io.fabric8.kubernetes.api.model.Service service) {
        return namespaceOf(service.getMetadata()) + "/" + Objects.requireNonNull(service.getMetadata(), "metadata").getName();
    }

    static String namespaceOf(io.fabric8.kubernetes.api.model.ObjectMeta meta) {
        return meta == null || meta.getNamespace() == null || meta.getNamespace().isEmpty() ? "default" : meta.getNamespace();
    }
}

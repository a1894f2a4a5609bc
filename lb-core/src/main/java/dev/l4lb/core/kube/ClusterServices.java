package dev.l4lb.core.kube;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;

import io.fabric8.kubernetes.api.model.LoadBalancerIngress;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.ServiceSpec;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointConditions;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointPort;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;

import dev.l4lb.core.model.Addresses;
import dev.l4lb.core.model.Cidr;
import dev.l4lb.core.model.Endpoint;
import dev.l4lb.core.model.PortPolicy;
import dev.l4lb.core.model.Protocol;
import dev.l4lb.core.model.Service;
import dev.l4lb.core.model.ServicePort;
import dev.l4lb.core.model.SessionAffinity;
import dev.l4lb.core.model.ShortCircuit;

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
 */
public final class ClusterServices {
    /** The Node label that names its zone, which topology hints refer to. */
    public static final String ZONE_LABEL = "topology.kubernetes.io/zone";
    /** The label that ties an EndpointSlice to its Service. */
    public static final String SERVICE_NAME_LABEL = "kubernetes.io/service-name";
    /** Suffix of the balancer port that serves a Service port's node port and externalIP traffic. */
    private static final String EXTERNAL_SUFFIX = "/external";
    /** Suffix of the balancer port that serves a Service port's load-balancer IPs. */
    private static final String LOAD_BALANCER_SUFFIX = "/loadbalancer";
    /**
     * Suffix of the listener-less port whose endpoints serve node and pod clients of a Service
     * port whose traffic policies are both Local.
     */
    private static final String CLUSTER_SUFFIX = "/cluster";
    /** Proxy ports tried for one Service port, beyond the fixed ports, before it is skipped. */
    private static final int PROXY_PORT_TRIES = 32;

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
        return translate(objects.services(), objects.slices(), node, self == null ? "" : zoneOf(self), proxyPorts);
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
                                        ProxyPorts proxyPorts) {
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
        Plan plan = new Plan();
        reserveFixedPorts(sorted, plan);
        for (io.fabric8.kubernetes.api.model.Service service : sorted) {
            translate(service, slicesByService.getOrDefault(qualifiedName(service), List.of()), node, zone, proxyPorts, plan);
        }
        proxyPorts.retainOnly(plan.proxyPortKeys);
        return new ProxierPlan(plan.services, plan.portals, plan.health, plan.skipped);
    }

    /** The key {@link ProxyPorts} knows a ClusterIP port's proxy listener by. */
    private static String proxyPortKey(String namespace, String name, String port, Protocol protocol) {
        return namespace + "/" + name + ":" + port + "/" + protocol;
    }

    /** A Node's {@value #ZONE_LABEL} label; empty when it has none. */
    public static String zoneOf(Node node) {
        Map<String, String> labels = node.getMetadata() == null ? null : node.getMetadata().getLabels();
        return labels == null ? "" : labels.getOrDefault(ZONE_LABEL, "");
    }

    /** {@code namespace/name} of the Service an EndpointSlice belongs to, or null when unlabelled. */
    public static String serviceOf(EndpointSlice slice) {
        Map<String, String> labels = slice.getMetadata() == null ? null : slice.getMetadata().getLabels();
        String name = labels == null ? null : labels.get(SERVICE_NAME_LABEL);
        return name == null ? null : namespaceOf(slice.getMetadata()) + "/" + name;
    }

    private static final class Plan {
        final List<Service> services = new ArrayList<>();
        final List<Portal> portals = new ArrayList<>();
        final List<ServiceHealth> health = new ArrayList<>();
        final List<String> skipped = new ArrayList<>();
        final Set<String> proxyPortKeys = new HashSet<>();
        /**
         * Every address a port listens on or intercepts so far, and whose it is, by protocol and
         * port number: a clash can only be within one port number, so each check reads only the
         * few addresses of that number, not every claim of a cluster with thousands of Services.
         */
        final Map<Protocol, Map<Integer, Map<InetAddress, String>>> claimed = new HashMap<>();
        /**
         * Port numbers some Service's node port, health check port, externalIP or load-balancer IP
         * uses, by protocol: no proxy listener takes one, whichever Service is older.
         */
        final Map<Protocol, Set<Integer>> fixed = new HashMap<>();

        /**
         * The addresses of {@code wanted} nobody claimed yet, now claimed by {@code owner}; the
         * others are reported as skipped. A wildcard address clashes with every address of its port.
         */
        List<InetSocketAddress> claim(Protocol protocol, List<InetSocketAddress> wanted, String owner) {
            List<InetSocketAddress> granted = new ArrayList<>(wanted.size());
            for (InetSocketAddress address : wanted) {
                Map<InetAddress, String> taken = takenAt(protocol, address.getPort());
                String holder = holderOf(taken, address.getAddress());
                if (holder == null) {
                    taken.put(address.getAddress(), owner);
                    granted.add(address);
                } else if (owner.equals(taken.get(address.getAddress()))) {
                    if (!granted.contains(address)) {
                        granted.add(address); // claimed before, by the owner itself (its proxy listener)
                    }
                } else if (!holder.equals(owner)) {
                    skipped.add(owner + ": " + protocol + " " + Addresses.format(address) + " is already served for "
                            + holder + " (the older Service keeps it)");
                }
            }
            return granted;
        }

        /** Claims {@code address} for {@code owner} when nobody holds it; says whether it did. */
        boolean claimIfFree(Protocol protocol, InetSocketAddress address, String owner) {
            Map<InetAddress, String> taken = takenAt(protocol, address.getPort());
            if (holderOf(taken, address.getAddress()) != null) {
                return false;
            }
            taken.put(address.getAddress(), owner);
            return true;
        }

        /** The claims on this protocol's port number, address to owner. */
        private Map<InetAddress, String> takenAt(Protocol protocol, int port) {
            return claimed.computeIfAbsent(protocol, p -> new HashMap<>()).computeIfAbsent(port, p -> new HashMap<>(4));
        }

        /** Who holds {@code address} on this port number: the same address, or a wildcard on either side. */
        private static String holderOf(Map<InetAddress, String> taken, InetAddress address) {
            String exact = taken.get(address);
            if (exact != null) {
                return exact;
            }
            for (Map.Entry<InetAddress, String> entry : taken.entrySet()) {
                if (entry.getKey().isAnyLocalAddress() || address.isAnyLocalAddress()) {
                    return entry.getValue();
                }
            }
            return null;
        }
    }

    /**
     * One kind of traffic of a Service port: where it arrives, and which endpoints it may use.
     *
     * @param external node port, externalIP or load-balancer traffic: under a Local policy, its
     *                 clients inside the cluster still go to every endpoint
     */
    private record Traffic(String suffix, List<InetSocketAddress> listen, List<InetSocketAddress> intercepted,
                           boolean localOnly, List<Cidr> sourceRanges, boolean external) {

        boolean shortCircuits() {
            return external && localOnly;
        }
    }

    private static void translate(io.fabric8.kubernetes.api.model.Service service, List<EndpointSlice> slices,
                                  NodeContext node, String zone, ProxyPorts proxyPorts, Plan plan) {
        String qualified = qualifiedName(service);
        ServiceSpec spec = service.getSpec();
        if (spec == null) {
            plan.skipped.add(qualified + ": no spec");
            return;
        }
        if ("ExternalName".equals(spec.getType())) {
            plan.skipped.add(qualified + ": type ExternalName is a DNS alias, nothing to proxy");
            return;
        }
        List<String> clusterIpTexts = spec.getClusterIPs() != null && !spec.getClusterIPs().isEmpty()
                ? spec.getClusterIPs() : spec.getClusterIP() == null ? List.of() : List.of(spec.getClusterIP());
        if (clusterIpTexts.isEmpty() || clusterIpTexts.get(0).isEmpty()) {
            // A manifest read offline has no clusterIP (the API server allocates it): the Service is
            // still served on its proxy listener and node ports, with no portal.
            clusterIpTexts = List.of();
        } else if ("None".equals(clusterIpTexts.get(0))) {
            plan.skipped.add(qualified + ": headless (clusterIP None), clients reach the pods directly");
            return;
        }
        List<InetAddress> clusterIps = new ArrayList<>();
        for (String text : clusterIpTexts) {
            Optional<InetAddress> ip = Addresses.parseIp(text);
            if (ip.isEmpty()) {
                plan.skipped.add(qualified + ": clusterIP " + text + " is not an IP address");
                return;
            }
            clusterIps.add(ip.get());
        }
        String namespace = namespaceOf(service.getMetadata());
        String name = service.getMetadata().getName();
        boolean clientIp = "ClientIP".equals(spec.getSessionAffinity());
        int affinityTimeout = affinityTimeout(spec);
        boolean internalLocal = "Local".equals(spec.getInternalTrafficPolicy());
        boolean externalLocal = "Local".equals(spec.getExternalTrafficPolicy());
        List<Cidr> sourceRanges = new ArrayList<>();
        for (String range : orEmpty(spec.getLoadBalancerSourceRanges())) {
            Cidr.parse(range.trim()).ifPresentOrElse(sourceRanges::add,
                    () -> plan.skipped.add(qualified + ": loadBalancerSourceRanges entry " + range + " is not a CIDR, ignored"));
        }
        List<InetAddress> externalIps = localIps(orEmpty(spec.getExternalIPs()), node);
        List<InetAddress> ingressIps = localIps(ingressIps(service), node);
        // The node reaches its own load-balancer IP with that IP as source; kube-proxy lets it
        // through when the ranges admit the node (proxier.go, allowFromNode).
        if (node.localAddresses().stream().anyMatch(address -> Cidr.anyContains(sourceRanges, address))) {
            for (InetAddress ip : ingressIps) {
                sourceRanges.add(new Cidr(ip, ip.getAddress().length * 8));
            }
        }

        List<ServicePort> ports = new ArrayList<>();
        Set<InetAddress> localReady = new HashSet<>();
        int index = 0;
        for (io.fabric8.kubernetes.api.model.ServicePort port : orEmpty(spec.getPorts())) {
            String portName = port.getName() == null ? "" : port.getName();
            String label = qualified + (portName.isEmpty() ? ":" + port.getPort() : ":" + portName);
            Protocol protocol;
            String protocolText = port.getProtocol() == null ? "TCP" : port.getProtocol();
            switch (protocolText) {
                case "TCP" -> protocol = Protocol.TCP;
                case "UDP" -> protocol = Protocol.UDP;
                default -> {
                    plan.skipped.add(label + ": protocol " + protocolText + " is not proxied (TCP and UDP are)");
                    index++;
                    continue;
                }
            }
            if (port.getPort() == null || port.getPort() < 1 || port.getPort() > 65535) {
                plan.skipped.add(label + ": spec.ports[" + index + "].port must be 1..65535");
                index++;
                continue;
            }
            int servicePort = port.getPort();
            Map<InetSocketAddress, Hints> hints = new HashMap<>();
            List<Endpoint> endpoints = endpoints(slices, portName, protocolText, hints);
            // Cluster traffic policy takes topology into account; Local does not (kube-proxy's CategorizeEndpoints).
            List<Endpoint> clusterEndpoints = topologyFiltered(endpoints, hints, node.nodeName(), zone);
            for (Endpoint endpoint : endpoints) {
                if (endpoint.ready() && node.nodeName().equals(endpoint.node())) {
                    localReady.add(endpoint.address().getAddress());
                }

            }

            List<Traffic> kinds = new ArrayList<>();
            List<InetSocketAddress> clusterListen = new ArrayList<>();
            List<InetSocketAddress> clusterIntercepted = new ArrayList<>();
            // A Service without a clusterIP (manifests) has nothing to intercept: it keeps a proxy listener.
            if (node.transparentTcp() && protocol == Protocol.TCP && !clusterIps.isEmpty()) {
                for (InetAddress ip : clusterIps) {
                    clusterIntercepted.add(new InetSocketAddress(ip, servicePort));
                }
            } else {
                String key = proxyPortKey(namespace, name, portName.isEmpty() ? String.valueOf(servicePort) : portName, protocol);
                int proxyPort;
                try {
                    proxyPort = proxyListener(key, protocol, label, node, proxyPorts, plan);
                } catch (IllegalStateException noneLeft) {
                    plan.skipped.add(label + ": " + noneLeft.getMessage());
                    index++;
                    continue;
                }
                plan.proxyPortKeys.add(key);
                clusterListen.add(new InetSocketAddress(node.bindAddress(), proxyPort));
                for (InetAddress ip : clusterIps) {
                    plan.portals.add(new Portal(label, protocol, ip, servicePort, proxyPort));
                }
            }
            kinds.add(new Traffic("", clusterListen, clusterIntercepted, internalLocal, List.of(), false));

            List<InetSocketAddress> externalListen = new ArrayList<>();
            Integer nodePort = port.getNodePort();
            if (nodePort != null && nodePort > 0 && hasNodePorts(spec)) {
                externalListen.addAll(nodePortListeners(node, protocol, nodePort));
            }
            for (InetAddress ip : externalIps) {
                externalListen.add(new InetSocketAddress(ip, servicePort));
            }
            if (!externalListen.isEmpty()) {
                kinds.add(new Traffic(EXTERNAL_SUFFIX, externalListen, List.of(), externalLocal, List.of(), true));
            }
            if (!ingressIps.isEmpty() && "LoadBalancer".equals(spec.getType())) {
                List<InetSocketAddress> lbListen = new ArrayList<>();
                for (InetAddress ip : ingressIps) {
                    lbListen.add(new InetSocketAddress(ip, servicePort));
                }
                kinds.add(new Traffic(LOAD_BALANCER_SUFFIX, lbListen, List.of(), externalLocal, sourceRanges, true));
            }

            PortPolicy policy = policy(protocol, clientIp, affinityTimeout, List.of());
            List<Traffic> claimed = new ArrayList<>();
            for (Traffic traffic : merge(kinds)) {
                String owner = label + traffic.suffix();
                List<InetSocketAddress> listen = plan.claim(protocol, traffic.listen(), owner);
                List<InetSocketAddress> intercepted = plan.claim(protocol, traffic.intercepted(), owner);
                if (!listen.isEmpty() || !intercepted.isEmpty()) {
                    claimed.add(new Traffic(traffic.suffix(), listen, intercepted, traffic.localOnly(),
                            traffic.sourceRanges(), traffic.external()));
                }
            }
            // Where node and pod clients of a Local external kind go: a port with every endpoint.
            Optional<ShortCircuit> inside = Optional.empty();
            ServicePort hidden = null;
            if (claimed.stream().anyMatch(Traffic::shortCircuits)) {
                String everyone = claimed.stream().filter(t -> !t.localOnly() && t.sourceRanges().isEmpty())
                        .map(t -> portName + t.suffix()).findFirst().orElse(null);
                if (everyone == null) {
                    everyone = portName + CLUSTER_SUFFIX;
                    hidden = new ServicePort(everyone, protocol, List.of(), 0, policy, clusterEndpoints);
                }
                inside = Optional.of(new ShortCircuit(everyone, node.localAddresses(), node.clusterCidrs()));
            }
            for (Traffic traffic : claimed) {
                List<Endpoint> chosen = traffic.localOnly()
                        ? endpoints.stream().filter(e -> node.nodeName().equals(e.node())).toList()
                        : clusterEndpoints;
                PortPolicy trafficPolicy = traffic.sourceRanges().isEmpty() ? policy
                        : policy(protocol, clientIp, affinityTimeout, traffic.sourceRanges());
                ports.add(new ServicePort(portName + traffic.suffix(), protocol, traffic.listen(), 0, trafficPolicy, chosen,
                        traffic.intercepted(), traffic.shortCircuits() ? inside : Optional.empty()));
            }
            if (hidden != null) {
                ports.add(hidden);
            }
            index++;
        }
        if (!ports.isEmpty()) {
            plan.services.add(new Service(namespace, name, ports));
        }
        Integer healthPort = spec.getHealthCheckNodePort();
        if (externalLocal && healthPort != null && healthPort > 0 && healthPort <= 65535) {
            // A dual-stack pod has an address in each family's slice: count pods, not addresses.
            long v4 = localReady.stream().filter(a -> a instanceof java.net.Inet4Address).count();
            plan.health.add(new ServiceHealth(namespace, name, healthPort, (int) Math.max(v4, localReady.size() - v4)));
        }
    }

    /**
     * A proxy port for {@code key} whose listener is claimed for {@code owner} before any portal
     * points at it: a port another listener holds, or a Service's node port or externalIP port
     * uses, would send the ClusterIP's traffic to that other Service. Such a port is given back as
     * unusable and another taken.
     */
    private static int proxyListener(String key, Protocol protocol, String owner, NodeContext node, ProxyPorts proxyPorts,
                                     Plan plan) {
        Set<Integer> fixed = plan.fixed.getOrDefault(protocol, Set.of());
        // Enough tries to walk past every fixed port in the range, and a few taken by others.
        int tries = fixed.size() + PROXY_PORT_TRIES;
        for (int attempt = 0; attempt < tries; attempt++) {
            int port = proxyPorts.portFor(key, protocol);
            if (!fixed.contains(port) && plan.claimIfFree(protocol, new InetSocketAddress(node.bindAddress(), port), owner)) {
                return port;
            }
            proxyPorts.unusable(port);
        }
        throw new IllegalStateException("no proxy port found that no node port, health check port, externalIP or other "
                + "listener uses, after " + tries + " tries");
    }

    /** The port numbers of every node port, health check port, externalIP and load-balancer IP, which proxy ports avoid. */
    private static void reserveFixedPorts(List<io.fabric8.kubernetes.api.model.Service> services, Plan plan) {
        for (io.fabric8.kubernetes.api.model.Service service : services) {
            ServiceSpec spec = service.getSpec();
            if (spec == null) {
                continue;
            }
            boolean nodePorts = hasNodePorts(spec);
            boolean servicePorts = !orEmpty(spec.getExternalIPs()).isEmpty() || !ingressIps(service).isEmpty();
            if (spec.getHealthCheckNodePort() != null) {
                plan.fixed.computeIfAbsent(Protocol.TCP, p -> new HashSet<>()).add(spec.getHealthCheckNodePort());
            }
            for (io.fabric8.kubernetes.api.model.ServicePort port : orEmpty(spec.getPorts())) {
                Protocol protocol = "UDP".equals(port.getProtocol()) ? Protocol.UDP : Protocol.TCP;
                Set<Integer> fixed = plan.fixed.computeIfAbsent(protocol, p -> new HashSet<>());
                if (nodePorts && port.getNodePort() != null) {
                    fixed.add(port.getNodePort());
                }
                if (servicePorts && port.getPort() != null) {
                    fixed.add(port.getPort());
                }
            }
        }
    }

    /** NodePort and LoadBalancer Services have node ports; the others do not. */
    private static boolean hasNodePorts(ServiceSpec spec) {
        return "NodePort".equals(spec.getType()) || "LoadBalancer".equals(spec.getType());
    }

    /** Kinds of traffic with the same endpoints and ranges become one port with all their listeners. */
    private static List<Traffic> merge(List<Traffic> kinds) {
        Map<List<Object>, Traffic> merged = new LinkedHashMap<>();
        for (Traffic kind : kinds) {
            List<Object> key = List.of(kind.localOnly(), kind.sourceRanges(), kind.shortCircuits());
            Traffic first = merged.get(key);
            if (first == null) {
                merged.put(key, kind);
            } else {
                List<InetSocketAddress> listen = new ArrayList<>(first.listen());
                listen.addAll(kind.listen());
                List<InetSocketAddress> intercepted = new ArrayList<>(first.intercepted());
                intercepted.addAll(kind.intercepted());
                merged.put(key, new Traffic(first.suffix(), listen, intercepted, first.localOnly(), first.sourceRanges(),
                        first.external()));
            }
        }
        return List.copyOf(merged.values());
    }

    /**
     * The node port's listeners: the wildcard address for TCP when every address serves node
     * ports, else each local address in range. UDP always binds each address, so that replies
     * leave from the address the client sent to.
     */
    private static List<InetSocketAddress> nodePortListeners(NodeContext node, Protocol protocol, int nodePort) {
        if (node.nodePortAddresses().isEmpty() && protocol == Protocol.TCP) {
            return List.of(new InetSocketAddress(wildcard(node.bindAddress()), nodePort));
        }
        List<InetSocketAddress> listen = new ArrayList<>();
        for (InetAddress address : node.nodePortLocalAddresses()) {
            listen.add(new InetSocketAddress(address, nodePort));
        }
        return listen;
    }

    private static InetAddress wildcard(InetAddress family) {
        return Addresses.parseIp(family instanceof java.net.Inet6Address ? "::" : "0.0.0.0").orElseThrow();
    }

    /** Topology hints of one endpoint: the zones and the nodes it is meant for (empty: no hint). */
    private record Hints(Set<String> zones, Set<String> nodes) {
        static final Hints NONE = new Hints(Set.of(), Set.of());

        static Hints of(io.fabric8.kubernetes.api.model.discovery.v1.Endpoint endpoint) {
            if (endpoint.getHints() == null) {
                return NONE;
            }
            Set<String> zones = new HashSet<>();
            orEmpty(endpoint.getHints().getForZones()).forEach(z -> zones.add(z.getName()));
            Set<String> nodes = new HashSet<>();
            orEmpty(endpoint.getHints().getForNodes()).forEach(n -> nodes.add(n.getName()));
            return new Hints(zones, nodes);
        }
    }

    /**
     * The endpoints cluster traffic uses on this node, as kube-proxy's topologyModeFromHints and
     * availableForTopology choose them (pkg/proxy/topology.go): when every ready endpoint has a
     * node hint and one is for this node, the ready ones for this node (PreferSameNode); else when
     * every ready endpoint has a zone hint and one is for this node's zone, the ready ones for the
     * zone (topology-aware routing, PreferSameZone); else all of them. The EndpointSlice
     * controller sets hints only for Services that ask for them.
     */
    private static List<Endpoint> topologyFiltered(List<Endpoint> endpoints, Map<InetSocketAddress, Hints> hints,
                                                   String nodeName, String zone) {
        boolean anyReady = false;
        boolean allNodeHints = true;
        boolean forThisNode = false;
        boolean allZoneHints = true;
        boolean forThisZone = false;
        for (Endpoint endpoint : endpoints) {
            if (!endpoint.ready()) {
                continue;
            }
            anyReady = true;
            Hints hint = hints.getOrDefault(endpoint.address(), Hints.NONE);
            if (hint.nodes().isEmpty()) {
                allNodeHints = false;
            } else if (hint.nodes().contains(nodeName)) {
                forThisNode = true;
            }
            if (hint.zones().isEmpty()) {
                allZoneHints = false;
            } else if (hint.zones().contains(zone)) {
                forThisZone = true;
            }
        }
        if (anyReady && allNodeHints && forThisNode) {
            return endpoints.stream().filter(e -> e.ready() && hints.get(e.address()).nodes().contains(nodeName)).toList();
        }
        if (anyReady && allZoneHints && forThisZone) {
            return endpoints.stream().filter(e -> e.ready() && hints.get(e.address()).zones().contains(zone)).toList();
        }
        return endpoints;
    }

    /**
     * The endpoints of one Service port, read as kube-proxy's EndpointSliceCache reads them: the
     * first address of each slice endpoint (the others are the same pod's), at the slice port
     * with this port's name and protocol (the EndpointSlice controller resolved targetPort there).
     * An address in two slices counts once, the entry that is not terminating first (a new pod
     * that reuses an old one's IP). Unset conditions read as the API says: ready and serving
     * unset are true, terminating unset is false. Sorted by address, so that the order of the
     * informers' stores does not make an unchanged Service look changed.
     */
    private static List<Endpoint> endpoints(List<EndpointSlice> slices, String portName, String protocol,
                                            Map<InetSocketAddress, Hints> hints) {
        Map<InetSocketAddress, Endpoint> byAddress = new LinkedHashMap<>();
        for (EndpointSlice slice : slices) {
            Integer number = null;
            for (EndpointPort port : orEmpty(slice.getPorts())) {
                String name = port.getName() == null ? "" : port.getName();
                String proto = port.getProtocol() == null ? "TCP" : port.getProtocol();
                if (name.equals(portName) && proto.equals(protocol)) {
                    number = port.getPort();
                    break;
                }
            }
            if (number == null || number < 1 || number > 65535) {
                continue;
            }
            for (io.fabric8.kubernetes.api.model.discovery.v1.Endpoint endpoint : orEmpty(slice.getEndpoints())) {
                EndpointConditions conditions = endpoint.getConditions();
                boolean ready = conditions == null || conditions.getReady() == null || conditions.getReady();
                boolean serving = conditions == null || conditions.getServing() == null || conditions.getServing();
                boolean terminating = conditions != null && Boolean.TRUE.equals(conditions.getTerminating());
                String nodeName = endpoint.getNodeName() == null ? "" : endpoint.getNodeName();
                List<String> addresses = orEmpty(endpoint.getAddresses());
                Optional<InetAddress> ip = addresses.isEmpty() ? Optional.empty() : Addresses.parseIp(addresses.get(0));
                if (ip.isPresent()) {
                    InetSocketAddress address = new InetSocketAddress(ip.get(), number);
                    Endpoint candidate = new Endpoint(address, Endpoint.DEFAULT_WEIGHT, nodeName, ready, serving, terminating, 0);
                    Endpoint before = byAddress.get(address);
                    if (before == null || (before.terminating() && !terminating)) {
                        byAddress.put(address, candidate);
                        hints.put(address, Hints.of(endpoint));
                    }
                }
            }
        }
        List<Endpoint> sorted = new ArrayList<>(byAddress.values());
        sorted.sort(Comparator.comparing((Endpoint e) -> Addresses.format(e.address())));
        return List.copyOf(sorted);
    }

    private static PortPolicy policy(Protocol protocol, boolean clientIp, int affinityTimeout, List<Cidr> sourceRanges) {
        PortPolicy defaults = PortPolicy.defaults();
        boolean udp = protocol == Protocol.UDP;
        return new PortPolicy(defaults.scheduler(), clientIp ? SessionAffinity.CLIENT_IP : SessionAffinity.NONE,
                affinityTimeout, defaults.sessionAffinityMaxEntries(), defaults.proxyProtocol(), false,
                defaults.acceptProxyProtocol(), sourceRanges, defaults.connectTimeout(),
                udp ? PortPolicy.DEFAULT_UDP_IDLE_TIMEOUT : defaults.idleTimeout(),
                udp ? PortPolicy.DEFAULT_UDP_MAX_SESSIONS : defaults.maxConnections());
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

    private static List<String> ingressIps(io.fabric8.kubernetes.api.model.Service service) {
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

    /** The addresses among these that this node owns: only those reach it, as the portals would capture them. */
    private static List<InetAddress> localIps(List<String> texts, NodeContext node) {
        List<InetAddress> local = new ArrayList<>();
        for (String text : texts) {
            Addresses.parseIp(text.trim()).filter(node::isLocal).filter(ip -> !local.contains(ip)).ifPresent(local::add);
        }
        return local;
    }

    /** RFC 3339 creation time, which sorts as text; none (a manifest's object) after every real one. */
    private static String createdAt(io.fabric8.kubernetes.api.model.Service service) {
        String created = service.getMetadata() == null ? null : service.getMetadata().getCreationTimestamp();
        return created == null || created.isEmpty() ? "~" : created;
    }

    private static String qualifiedName(io.fabric8.kubernetes.api.model.Service service) {
        return namespaceOf(service.getMetadata()) + "/" + Objects.requireNonNull(service.getMetadata(), "metadata").getName();
    }

    static String namespaceOf(io.fabric8.kubernetes.api.model.ObjectMeta meta) {
        return meta == null || meta.getNamespace() == null || meta.getNamespace().isEmpty() ? "default" : meta.getNamespace();
    }

    private static <T> List<T> orEmpty(List<T> list) {
        return list == null ? List.of() : list;
    }
}

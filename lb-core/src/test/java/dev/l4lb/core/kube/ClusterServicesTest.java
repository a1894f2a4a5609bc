package dev.l4lb.core.kube;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Optional;
import java.util.Set;

import org.junit.jupiter.api.Test;

import dev.l4lb.core.config.ConfigException;
import dev.l4lb.core.model.Cidr;
import dev.l4lb.core.model.Endpoint;
import dev.l4lb.core.model.Protocol;
import dev.l4lb.core.model.Service;
import dev.l4lb.core.model.ServicePort;
import dev.l4lb.core.model.SessionAffinity;
import dev.l4lb.core.model.ShortCircuit;

class ClusterServicesTest {
    private static final InetAddress NODE_IP = ip("192.0.2.10");
    private static final NodeContext NODE_A = new NodeContext("node-a", Set.of(ip("127.0.0.1"), NODE_IP), List.of(),
            ip("0.0.0.0"), false);

    private static final String SLICE = """
            ---
            apiVersion: discovery.k8s.io/v1
            kind: EndpointSlice
            metadata: {name: web-1, namespace: shop, labels: {kubernetes.io/service-name: web}}
            addressType: IPv4
            ports: [{name: http, port: 8080, protocol: TCP}]
            endpoints:
              - addresses: [10.1.0.1]
                nodeName: node-a
              - addresses: [10.1.0.2]
                nodeName: node-b
              - addresses: [10.1.0.3]
                nodeName: node-a
                conditions: {ready: false, serving: true, terminating: true}
            """;

    @Test
    void aClusterIpPortGetsAProxyListenerAndAPortalPerClusterIp() throws ConfigException {
        ProxierPlan plan = translate("""
                apiVersion: v1
                kind: Service
                metadata: {name: web, namespace: shop}
                spec:
                  clusterIPs: [10.96.0.10, "fd00::10"]
                  clusterIP: 10.96.0.10
                  ports: [{name: http, port: 80, targetPort: 8080}]
                """ + SLICE, NODE_A, new ProxyPortRange(40000, 40010));

        ServicePort port = onlyPort(plan);
        assertThat(port.name()).isEqualTo("http");
        assertThat(port.listen()).containsExactly(new InetSocketAddress(ip("0.0.0.0"), 40000));
        assertThat(port.endpoints()).extracting(e -> e.address().getAddress().getHostAddress() + ":" + e.address().getPort())
                .containsExactly("10.1.0.1:8080", "10.1.0.2:8080", "10.1.0.3:8080");
        assertThat(port.endpoints().get(2)).extracting(Endpoint::ready, Endpoint::serving, Endpoint::terminating)
                .containsExactly(false, true, true);
        assertThat(plan.portals()).containsExactly(
                new Portal("shop/web:http", Protocol.TCP, ip("10.96.0.10"), 80, 40000),
                new Portal("shop/web:http", Protocol.TCP, ip("fd00::10"), 80, 40000));
        assertThat(plan.healthChecks()).isEmpty();
    }

    @Test
    void proxyPortsStayAcrossSyncsAndAreFreedWhenTheServiceGoes() throws ConfigException {
        ProxyPortRange ports = new ProxyPortRange(40000, 40010);
        String a = service("a", "10.96.0.1", "ClusterIP", "");
        String b = service("b", "10.96.0.2", "ClusterIP", "");
        assertThat(translate(a + b, NODE_A, ports).portals()).extracting(Portal::proxyPort).containsExactly(40000, 40001);
        assertThat(translate(b + a, NODE_A, ports).portals()).extracting(Portal::proxyPort).containsExactly(40000, 40001);
        assertThat(translate(b, NODE_A, ports).portals()).extracting(Portal::proxyPort).containsExactly(40001);
        // a's port is free again and goes to the next newcomer.
        String c = service("c", "10.96.0.3", "ClusterIP", "");
        assertThat(translate(b + c, NODE_A, ports).portals()).extracting(Portal::proxyPort).containsExactly(40001, 40000);
    }

    /**
     * A proxy port never takes a number some Service's node port, health check port or externalIP
     * uses, older or younger: its portal would send the ClusterIP's traffic to that Service's
     * listener, or its listener keep the health check port from being bound.
     */
    @Test
    void proxyPortsAvoidTheNodePortsAndExternalIpPortsOfEveryService() throws ConfigException {
        String nodePort = """
                ---
                apiVersion: v1
                kind: Service
                metadata: {name: %s, namespace: shop}
                spec:
                  type: LoadBalancer
                  clusterIP: 10.96.0.20
                  externalTrafficPolicy: Local
                  healthCheckNodePort: 30002
                  ports: [{name: http, port: 80, nodePort: 30000}]
                """;
        String external = """
                ---
                apiVersion: v1
                kind: Service
                metadata: {name: c-external, namespace: shop}
                spec:
                  clusterIP: 10.96.0.30
                  externalIPs: [192.0.2.10]
                  ports: [{name: http, port: 30001}]
                """;
        // Manifests have no creation time, so by name "a" is older than "b-node" and "c-external",
        // and "0-node" is older than "b".
        String yaml = service("a", "10.96.0.1", "ClusterIP", "") + nodePort.formatted("b-node") + external;
        ProxierPlan plan = translate(yaml, NODE_A, new ProxyPortRange(30000, 30009));
        assertThat(plan.portals()).filteredOn(p -> p.service().equals("shop/a:http"))
                .extracting(Portal::proxyPort).containsExactly(30003);
        assertThat(plan.skipped()).isEmpty();

        plan = translate(nodePort.formatted("0-node") + service("b", "10.96.0.2", "ClusterIP", ""), NODE_A,
                new ProxyPortRange(30000, 30009));
        assertThat(plan.portals()).extracting(Portal::service, Portal::proxyPort).containsExactly(
                org.assertj.core.groups.Tuple.tuple("shop/0-node:http", 30001), org.assertj.core.groups.Tuple.tuple("shop/b:http", 30003));
        assertThat(plan.services()).flatExtracting(Service::ports).flatExtracting(ServicePort::listen)
                .contains(new InetSocketAddress(ip("0.0.0.0"), 30000), new InetSocketAddress(ip("0.0.0.0"), 30001));
    }

    @Test
    void underTproxyPortalsAServiceWithoutAClusterIpKeepsAProxyListener() throws ConfigException {
        ProxierPlan plan = translate("""
                apiVersion: v1
                kind: Service
                metadata: {name: web, namespace: shop}
                spec:
                  ports: [{name: http, port: 80, targetPort: 8080}]
                """ + SLICE, NODE_A.withTransparentTcp(true), new ProxyPortRange(40000, 40010));

        ServicePort port = onlyPort(plan);
        assertThat(port.listen()).containsExactly(new InetSocketAddress(ip("0.0.0.0"), 40000));
        assertThat(port.intercepted()).isEmpty();
        assertThat(plan.portals()).isEmpty();
    }

    /**
     * Topology-aware routing as kube-proxy's topology.go reads hints: cluster traffic uses the
     * endpoints hinted for this node's zone (its Node's label), or for this node itself; Local
     * traffic ignores hints; hints that are incomplete or name no endpoint here are ignored.
     */
    @Test
    void topologyHintsPickTheEndpointsForThisNodeOrItsZone() throws ConfigException {
        String service = nodePortService("Local", "Cluster");
        String nodeA = """
                ---
                apiVersion: v1
                kind: Node
                metadata: {name: node-a, labels: {topology.kubernetes.io/zone: zone-a}}
                """;
        // node-a's own endpoint is hinted for another zone: Local traffic uses it all the same.
        String zoneHints = hintedSlice("forZones: [{name: zone-b}]", "forZones: [{name: zone-a}]", "forZones: [{name: zone-a}]");

        List<ServicePort> ports = translate(service + zoneHints + nodeA, NODE_A, new ProxyPortRange(40000, 40010))
                .services().get(0).ports();
        assertThat(ports.get(0).endpoints()).as("ClusterIP: the zone's").extracting(e -> e.address().getAddress().getHostAddress())
                .containsExactly("10.1.0.2", "10.1.0.3");
        assertThat(ports.get(1).endpoints()).as("node port, Local: this node's, hints or not")
                .extracting(e -> e.address().getAddress().getHostAddress()).containsExactly("10.1.0.1");

        // No Node object, so no zone: hints are ignored.
        assertThat(translate(service + zoneHints, NODE_A, new ProxyPortRange(40000, 40010)).services().get(0).ports().get(0)
                .endpoints()).hasSize(3);
        // A ready endpoint without a hint: all are used.
        assertThat(translate(service + hintedSlice("forZones: [{name: zone-a}]", "forZones: [{name: zone-b}]", null) + nodeA,
                NODE_A, new ProxyPortRange(40000, 40010)).services().get(0).ports().get(0).endpoints()).hasSize(3);
        // No endpoint for zone-a: all are used.
        assertThat(translate(service + hintedSlice("forZones: [{name: zone-b}]", "forZones: [{name: zone-b}]",
                "forZones: [{name: zone-c}]") + nodeA, NODE_A, new ProxyPortRange(40000, 40010))
                .services().get(0).ports().get(0).endpoints()).hasSize(3);
        // Node hints for every endpoint, one for node-a: only that one (PreferSameNode).
        assertThat(translate(service + hintedSlice("{forNodes: [{name: node-b}], forZones: [{name: zone-a}]}",
                "{forNodes: [{name: node-a}], forZones: [{name: zone-b}]}", "{forNodes: [{name: node-b}], forZones: [{name: zone-a}]}")
                + nodeA, NODE_A, new ProxyPortRange(40000, 40010)).services().get(0).ports().get(0).endpoints())
                .extracting(e -> e.address().getAddress().getHostAddress()).containsExactly("10.1.0.2");
    }

    /** Three ready endpoints on node-a, node-b and node-c, with these hints ({@code forZones: ...} or a whole mapping; null: none). */
    private static String hintedSlice(String first, String second, String third) {
        return """
                ---
                apiVersion: discovery.k8s.io/v1
                kind: EndpointSlice
                metadata: {name: web-1, namespace: shop, labels: {kubernetes.io/service-name: web}}
                addressType: IPv4
                ports: [{name: http, port: 8080, protocol: TCP}]
                endpoints:
                  - {addresses: [10.1.0.1], nodeName: node-a%s}
                  - {addresses: [10.1.0.2], nodeName: node-b%s}
                  - {addresses: [10.1.0.3], nodeName: node-c%s}
                """.formatted(hint(first), hint(second), hint(third));
    }

    private static String hint(String text) {
        if (text == null) {
            return "";
        }
        return ", hints: " + (text.startsWith("{") ? text : "{" + text + "}");
    }

    @Test
    void headlessExternalNameAndSctpAreSkippedWithAReason() throws ConfigException {
        ProxierPlan plan = translate("""
                apiVersion: v1
                kind: Service
                metadata: {name: headless}
                spec: {clusterIP: None, ports: [{port: 80}]}
                ---
                apiVersion: v1
                kind: Service
                metadata: {name: alias}
                spec: {type: ExternalName, externalName: example.com}
                ---
                apiVersion: v1
                kind: Service
                metadata: {name: mixed}
                spec:
                  clusterIP: 10.96.0.7
                  ports: [{name: sctp, port: 9999, protocol: SCTP}, {name: dns, port: 53, protocol: UDP}]
                """, NODE_A, new ProxyPortRange(40000, 40010));

        assertThat(plan.skipped()).containsExactly(
                "default/alias: type ExternalName is a DNS alias, nothing to proxy",
                "default/headless: headless (clusterIP None), clients reach the pods directly",
                "default/mixed:sctp: protocol SCTP is not proxied (TCP and UDP are)");
        assertThat(plan.services()).extracting(Service::qualifiedName).containsExactly("default/mixed");
        assertThat(onlyPort(plan).protocol()).isEqualTo(Protocol.UDP);
    }

    @Test
    void externalTrafficPolicyLocalGivesNodePortsOnlyThisNodesEndpoints() throws ConfigException {
        ProxierPlan plan = translate(nodePortService("Local", "Cluster") + SLICE, NODE_A, new ProxyPortRange(40000, 40010));

        List<ServicePort> ports = plan.services().get(0).ports();
        assertThat(ports).extracting(ServicePort::name).containsExactly("http", "http/external");
        assertThat(ports.get(0).endpoints()).hasSize(3);
        ServicePort external = ports.get(1);
        assertThat(external.listen()).containsExactly(new InetSocketAddress(ip("0.0.0.0"), 30080));
        assertThat(external.endpoints()).extracting(Endpoint::node).containsOnly("node-a");
        // Clients on the node itself are served by every endpoint, through the ClusterIP's port.
        assertThat(external.shortCircuit()).contains(new ShortCircuit("http", NODE_A.localAddresses(), List.of()));
        assertThat(ports.get(0).shortCircuit()).isEmpty();
        // The healthCheckNodePort counts ready local endpoints: 10.1.0.3 is terminating.
        assertThat(plan.healthChecks()).containsExactly(new ServiceHealth("shop", "web", 31999, 1));
    }

    @Test
    void withBothPoliciesLocalNodeAndPodClientsOfTheNodePortGoToAListenerlessPortWithEveryEndpoint()
            throws ConfigException {
        List<Cidr> pods = List.of(Cidr.parse("10.244.0.0/16").orElseThrow());
        NodeContext node = new NodeContext("node-a", NODE_A.localAddresses(), List.of(), ip("0.0.0.0"), false, pods);
        ProxierPlan plan = translate(nodePortService("Local", "Local") + SLICE, node, new ProxyPortRange(40000, 40010));

        List<ServicePort> ports = plan.services().get(0).ports();
        assertThat(ports).extracting(ServicePort::name).containsExactly("http", "http/external", "http/cluster");
        assertThat(ports.get(0).endpoints()).extracting(Endpoint::node).containsOnly("node-a");
        assertThat(ports.get(0).shortCircuit()).as("ClusterIP traffic stays local: internalTrafficPolicy").isEmpty();
        assertThat(ports.get(1).endpoints()).extracting(Endpoint::node).containsOnly("node-a");
        assertThat(ports.get(1).shortCircuit()).contains(new ShortCircuit("http/cluster", NODE_A.localAddresses(), pods));
        assertThat(ports.get(2).listen()).isEmpty();
        assertThat(ports.get(2).intercepted()).isEmpty();
        assertThat(ports.get(2).endpoints()).hasSize(3);
    }

    @Test
    void onANodeWithoutLocalEndpointsTheExternalPortHasNone() throws ConfigException {
        NodeContext nodeC = new NodeContext("node-c", NODE_A.localAddresses(), List.of(), ip("0.0.0.0"), false);
        ProxierPlan plan = translate(nodePortService("Local", "Cluster") + SLICE, nodeC, new ProxyPortRange(40000, 40010));

        assertThat(plan.services().get(0).ports().get(1).endpoints()).isEmpty();
        assertThat(plan.healthChecks()).containsExactly(new ServiceHealth("shop", "web", 31999, 0));
    }

    @Test
    void internalTrafficPolicyLocalGivesTheClusterIpOnlyThisNodesEndpoints() throws ConfigException {
        ProxierPlan plan = translate(nodePortService("Cluster", "Local") + SLICE, NODE_A, new ProxyPortRange(40000, 40010));

        List<ServicePort> ports = plan.services().get(0).ports();
        assertThat(ports.get(0).endpoints()).extracting(Endpoint::node).containsOnly("node-a");
        assertThat(ports.get(1).name()).isEqualTo("http/external");
        assertThat(ports.get(1).endpoints()).hasSize(3);
        assertThat(ports).extracting(ServicePort::shortCircuit).containsOnly(Optional.empty());
    }

    @Test
    void sameEndpointsForEveryKindOfTrafficMeansOnePortWithEveryListener() throws ConfigException {
        ProxierPlan plan = translate(nodePortService("Cluster", "Cluster") + SLICE, NODE_A, new ProxyPortRange(40000, 40010));

        ServicePort port = onlyPort(plan);
        assertThat(port.listen()).containsExactly(new InetSocketAddress(ip("0.0.0.0"), 40000),
                new InetSocketAddress(ip("0.0.0.0"), 30080));
    }

    @Test
    void nodePortAddressesLimitTheNodePortToLocalAddressesInRange() throws ConfigException {
        NodeContext limited = new NodeContext("node-a", NODE_A.localAddresses(), List.of(Cidr.parse("192.0.2.0/24").orElseThrow()),
                ip("0.0.0.0"), false);
        ProxierPlan plan = translate(nodePortService("Cluster", "Cluster") + SLICE, limited, new ProxyPortRange(40000, 40010));

        assertThat(onlyPort(plan).listen()).containsExactly(new InetSocketAddress(ip("0.0.0.0"), 40000),
                new InetSocketAddress(NODE_IP, 30080));
    }

    @Test
    void onlyLocalExternalIpsAndLoadBalancerIpsAreServedAndSourceRangesApplyToTheLoadBalancerOnly() throws ConfigException {
        // 192.0.2.10 is local, but as an ingress IP of ipMode Proxy it is the load balancer's to serve.
        ProxierPlan plan = translate("""
                apiVersion: v1
                kind: Service
                metadata: {name: web, namespace: shop}
                spec:
                  type: LoadBalancer
                  clusterIP: 10.96.0.10
                  externalIPs: [192.0.2.10, 198.51.100.1]
                  loadBalancerSourceRanges: [203.0.113.0/24]
                  ports: [{name: http, port: 80, nodePort: 30080}]
                status:
                  loadBalancer:
                    ingress: [{ip: 127.0.0.1}, {ip: 198.51.100.2}, {ip: 192.0.2.10, ipMode: Proxy}]
                """ + SLICE, NODE_A, new ProxyPortRange(40000, 40010));

        List<ServicePort> ports = plan.services().get(0).ports();
        assertThat(ports).extracting(ServicePort::name).containsExactly("http", "http/loadbalancer");
        assertThat(ports.get(0).listen()).containsExactly(new InetSocketAddress(ip("0.0.0.0"), 40000),
                new InetSocketAddress(ip("0.0.0.0"), 30080), new InetSocketAddress(NODE_IP, 80));
        assertThat(ports.get(0).policy().sourceRanges()).isEmpty();
        assertThat(ports.get(1).listen()).containsExactly(new InetSocketAddress(ip("127.0.0.1"), 80));
        assertThat(ports.get(1).policy().sourceRanges()).containsExactly(Cidr.parse("203.0.113.0/24").orElseThrow());
        assertThat(plan.skipped()).as("the Proxy-mode ingress IP is not even tried").isEmpty();
    }

    /** kube-proxy's allowFromNode: ranges that admit the node also admit its own LB IPs as sources. */
    @Test
    void sourceRangesThatAdmitTheNodeAlsoAdmitTheLoadBalancerIpsAsSources() throws ConfigException {
        ProxierPlan plan = translate("""
                apiVersion: v1
                kind: Service
                metadata: {name: web, namespace: shop}
                spec:
                  type: LoadBalancer
                  clusterIP: 10.96.0.10
                  loadBalancerSourceRanges: [192.0.2.0/24]
                  ports: [{name: http, port: 80, nodePort: 30080}]
                status:
                  loadBalancer:
                    ingress: [{ip: 127.0.0.1}]
                """ + SLICE, NODE_A, new ProxyPortRange(40000, 40010));

        ServicePort lb = plan.services().get(0).ports().get(1);
        assertThat(lb.name()).isEqualTo("http/loadbalancer");
        assertThat(lb.policy().sourceRanges()).containsExactly(Cidr.parse("192.0.2.0/24").orElseThrow(),
                Cidr.parse("127.0.0.1/32").orElseThrow());
    }

    @Test
    void clientIpAffinityTakesTheServicesTimeoutOrKubernetesDefault() throws ConfigException {
        ProxierPlan plan = translate("""
                apiVersion: v1
                kind: Service
                metadata: {name: sticky}
                spec:
                  clusterIP: 10.96.0.20
                  sessionAffinity: ClientIP
                  sessionAffinityConfig: {clientIP: {timeoutSeconds: 60}}
                  ports: [{port: 80}]
                ---
                apiVersion: v1
                kind: Service
                metadata: {name: sticky-default}
                spec:
                  clusterIP: 10.96.0.21
                  sessionAffinity: ClientIP
                  ports: [{port: 80}]
                """, NODE_A, new ProxyPortRange(40000, 40010));

        assertThat(plan.services()).extracting(s -> s.ports().get(0).policy().sessionAffinity())
                .containsOnly(SessionAffinity.CLIENT_IP);
        assertThat(plan.services()).extracting(s -> s.ports().get(0).policy().sessionAffinityTimeoutSeconds())
                .containsExactly(60, 10800);
    }

    @Test
    void underTproxyPortalsTcpClusterIpsAreInterceptedAndUdpKeepsItsProxyPort() throws ConfigException {
        NodeContext tproxy = new NodeContext("node-a", NODE_A.localAddresses(), List.of(), ip("0.0.0.0"), true);
        ProxierPlan plan = translate("""
                apiVersion: v1
                kind: Service
                metadata: {name: dns, namespace: kube-system}
                spec:
                  clusterIP: 10.96.0.10
                  ports: [{name: dns, port: 53, protocol: UDP}, {name: dns-tcp, port: 53, protocol: TCP}]
                """, tproxy, new ProxyPortRange(40000, 40010));

        List<ServicePort> ports = plan.services().get(0).ports();
        assertThat(ports.get(0).listen()).containsExactly(new InetSocketAddress(ip("0.0.0.0"), 40000));
        assertThat(ports.get(1).listen()).isEmpty();
        assertThat(ports.get(1).intercepted()).containsExactly(new InetSocketAddress(ip("10.96.0.10"), 53));
        assertThat(plan.intercepted()).containsExactly(new InetSocketAddress(ip("10.96.0.10"), 53));
        assertThat(plan.portals()).containsExactly(new Portal("kube-system/dns:dns", Protocol.UDP, ip("10.96.0.10"), 53, 40000));
    }

    @Test
    void aSliceWithoutThePortsNameGivesThatPortNoEndpointsAndDuplicatesCountOnce() throws ConfigException {
        ProxierPlan plan = translate(service("web", "10.96.0.10", "ClusterIP", "") + SLICE + SLICE.replace("web-1", "web-2"),
                NODE_A, new ProxyPortRange(40000, 40010));
        // service() names its port "http", as the slice does; the second slice repeats the same pods.
        assertThat(onlyPort(plan).endpoints()).hasSize(3);

        ProxierPlan unnamed = translate("""
                apiVersion: v1
                kind: Service
                metadata: {name: web, namespace: shop}
                spec: {clusterIP: 10.96.0.10, ports: [{port: 80}]}
                """ + SLICE, NODE_A, new ProxyPortRange(40000, 40010));
        assertThat(onlyPort(unnamed).endpoints()).isEmpty();
    }

    @Test
    void whenTwoServicesClaimOneAddressTheOlderKeepsItAndTheOtherIsReported() throws ConfigException {
        String young = """
                ---
                apiVersion: v1
                kind: Service
                metadata: {name: young, namespace: shop, creationTimestamp: "2026-11-02T00:00:00Z"}
                spec: {clusterIP: 10.96.0.2, externalIPs: [192.0.2.10], ports: [{name: http, port: 80}]}
                """;
        String old = young.replace("young", "old").replace("2026-11-02", "2026-11-01").replace("10.96.0.2", "10.96.0.1");
        ProxierPlan plan = translate(young + old, NODE_A, new ProxyPortRange(40000, 40010));

        assertThat(plan.services()).extracting(Service::name).containsExactly("old", "young");
        assertThat(plan.services().get(0).ports().get(0).listen()).contains(new InetSocketAddress(NODE_IP, 80));
        assertThat(plan.services().get(1).ports().get(0).listen()).doesNotContain(new InetSocketAddress(NODE_IP, 80)).hasSize(1);
        assertThat(plan.skipped()).containsExactly(
                "shop/young:http: TCP 192.0.2.10:80 is already served for shop/old:http (the older Service keeps it)");
    }

    @Test
    void aNodePortOnTheWildcardAddressClashesWithAnyAddressOfThatPort() throws ConfigException {
        String nodePort = """
                ---
                apiVersion: v1
                kind: Service
                metadata: {name: np, namespace: shop}
                spec: {type: NodePort, clusterIP: 10.96.0.3, ports: [{name: http, port: 80, nodePort: 30080}]}
                """;
        String external = """
                ---
                apiVersion: v1
                kind: Service
                metadata: {name: zz-external, namespace: shop}
                spec: {clusterIP: 10.96.0.4, externalIPs: [192.0.2.10], ports: [{name: http, port: 30080}]}
                """;
        ProxierPlan plan = translate(nodePort + external, NODE_A, new ProxyPortRange(40000, 40010));

        assertThat(plan.skipped()).containsExactly(
                "shop/zz-external:http: TCP 192.0.2.10:30080 is already served for shop/np:http (the older Service keeps it)");
    }

    @Test
    void whenTheProxyPortsRunOutThePortIsSkippedAndTheOthersServed() throws ConfigException {
        ProxierPlan plan = translate(service("a", "10.96.0.1", "ClusterIP", "") + service("b", "10.96.0.2", "ClusterIP", "")
                + service("c", "10.96.0.3", "ClusterIP", ""), NODE_A, new ProxyPortRange(40000, 40001));

        assertThat(plan.services()).extracting(Service::name).containsExactly("a", "b");
        assertThat(plan.skipped()).containsExactly("shop/c:http: no proxy port left in 40000-40001 for shop/c:http/TCP");
    }

    @Test
    void endpointsAreReadAsKubeProxyReadsThem() throws ConfigException {
        ProxierPlan plan = translate(service("web", "10.96.0.10", "ClusterIP", "") + """
                ---
                apiVersion: discovery.k8s.io/v1
                kind: EndpointSlice
                metadata: {name: web-old, namespace: shop, labels: {kubernetes.io/service-name: web}}
                addressType: IPv4
                ports: [{name: http, port: 8080}]
                endpoints:
                  - {addresses: [10.1.0.9], conditions: {ready: false, terminating: true}}
                  - {addresses: [10.1.0.5, 10.1.0.6]}
                ---
                apiVersion: discovery.k8s.io/v1
                kind: EndpointSlice
                metadata: {name: web-new, namespace: shop, labels: {kubernetes.io/service-name: web}}
                addressType: IPv4
                ports: [{name: http, port: 8080}]
                endpoints:
                  - {addresses: [10.1.0.9], conditions: {ready: true}}
                  - {addresses: [10.1.0.7], conditions: {ready: false, terminating: true}}
                """, NODE_A, new ProxyPortRange(40000, 40010));

        // The reused IP is the new ready pod; only an endpoint's first address counts; serving unset
        // is serving (10.1.0.7 may take connections when nothing is ready); sorted by address.
        assertThat(onlyPort(plan).endpoints()).extracting(e -> e.address().getAddress().getHostAddress()
                        + " ready=" + e.ready() + " serving=" + e.serving() + " terminating=" + e.terminating())
                .containsExactly("10.1.0.5 ready=true serving=true terminating=false",
                        "10.1.0.7 ready=false serving=true terminating=true",
                        "10.1.0.9 ready=true serving=true terminating=false");
    }

    @Test
    void aDualStackPodCountsOnceOnTheHealthCheckPort() throws ConfigException {
        ProxierPlan plan = translate(nodePortService("Local", "Cluster").replace("clusterIP: 10.96.0.10",
                "clusterIP: 10.96.0.10\n  ipFamilies: [IPv4, IPv6]") + """
                ---
                apiVersion: discovery.k8s.io/v1
                kind: EndpointSlice
                metadata: {name: web-v4, namespace: shop, labels: {kubernetes.io/service-name: web}}
                addressType: IPv4
                ports: [{name: http, port: 8080}]
                endpoints: [{addresses: [10.1.0.1], nodeName: node-a}]
                ---
                apiVersion: discovery.k8s.io/v1
                kind: EndpointSlice
                metadata: {name: web-v6, namespace: shop, labels: {kubernetes.io/service-name: web}}
                addressType: IPv6
                ports: [{name: http, port: 8080}]
                endpoints: [{addresses: ["fd00::1"], nodeName: node-a}]
                """, NODE_A, new ProxyPortRange(40000, 40010));

        assertThat(plan.healthChecks()).containsExactly(new ServiceHealth("shop", "web", 31999, 1));
    }

    private static String nodePortService(String externalPolicy, String internalPolicy) {
        return """
                apiVersion: v1
                kind: Service
                metadata: {name: web, namespace: shop}
                spec:
                  type: LoadBalancer
                  clusterIP: 10.96.0.10
                  externalTrafficPolicy: %s
                  internalTrafficPolicy: %s
                  healthCheckNodePort: 31999
                  ports: [{name: http, port: 80, targetPort: 8080, nodePort: 30080}]
                """.formatted(externalPolicy, internalPolicy);
    }

    private static String service(String name, String clusterIp, String type, String extra) {
        return """
                ---
                apiVersion: v1
                kind: Service
                metadata: {name: %s, namespace: shop}
                spec:
                  type: %s
                  clusterIP: %s
                  ports: [{name: http, port: 80}]
                %s
                """.formatted(name, type, clusterIp, extra);
    }

    private static ProxierPlan translate(String yaml, NodeContext node, ProxyPorts ports) throws ConfigException {
        ClusterObjects objects = KubeManifests.parse("test.yaml", yaml);
        return ClusterServices.translate(objects, node, ports);
    }

    private static ServicePort onlyPort(ProxierPlan plan) {
        assertThat(plan.services()).hasSize(1);
        assertThat(plan.services().get(0).ports()).hasSize(1);
        return plan.services().get(0).ports().get(0);
    }

    private static InetAddress ip(String text) {
        return dev.l4lb.core.model.Addresses.parseIp(text).orElseThrow();
    }
}

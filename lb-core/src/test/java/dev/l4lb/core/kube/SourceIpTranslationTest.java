package dev.l4lb.core.kube;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

import org.junit.jupiter.api.Test;

import dev.l4lb.core.config.ConfigException;
import dev.l4lb.core.model.Cidr;
import dev.l4lb.core.model.ProxyProtocol;
import dev.l4lb.core.model.ServicePort;
import dev.l4lb.core.model.UpstreamSource;

/**
 * Whose address each balancer port connects its endpoints from, per traffic policy and the
 * {@value SourceIp#ANNOTATION} annotation: what kube-proxy's kernel modes keep and masquerade.
 */
class SourceIpTranslationTest {
    private static final List<Cidr> PODS = List.of(Cidr.parse("10.244.0.0/16").orElseThrow());
    private static final NodeContext NODE = new NodeContext("node-a", Set.of(ip("192.0.2.10")), List.of(),
            ip("0.0.0.0"), false, PODS);
    private static final NodeContext NO_CLUSTER_CIDR = new NodeContext("node-a", Set.of(ip("192.0.2.10")), List.of(),
            ip("0.0.0.0"), false, List.of());
    private static final String SLICE = """
            ---
            apiVersion: discovery.k8s.io/v1
            kind: EndpointSlice
            metadata: {name: web-1, namespace: shop, labels: {kubernetes.io/service-name: web}}
            addressType: IPv4
            ports: [{name: http, port: 8080, protocol: TCP}, {name: dns, port: 53, protocol: UDP}]
            endpoints:
              - addresses: [10.244.1.1]
                nodeName: node-a
              - addresses: [10.244.2.1]
                nodeName: node-b
            """;

    @Test
    void externalLocalKeepsEveryOutsideClientAndClusterIpTrafficKeepsPods() throws ConfigException {
        Map<String, ServicePort> ports = ports(service("Local", "Cluster", ""), NODE);

        assertThat(ports.keySet()).containsExactly("http", "http/external", "dns", "dns/external");
        // Node and pod clients of the node port are handed to "http" (the short circuit): the rest come from outside.
        assertThat(source(ports, "http/external")).isEqualTo(UpstreamSource.client(List.of()));
        assertThat(source(ports, "http")).isEqualTo(UpstreamSource.client(PODS));
        assertThat(source(ports, "http").fromClient(ip("10.244.3.7"))).isTrue();
        assertThat(source(ports, "http").fromClient(ip("192.0.2.10"))).as("the node, masqueraded by kube-proxy").isFalse();
        assertThat(source(ports, "dns/external")).as("UDP sessions are not transparent").isEqualTo(UpstreamSource.BALANCER);
        assertThat(source(ports, "dns")).isEqualTo(UpstreamSource.BALANCER);
    }

    @Test
    void externalClusterTrafficIsMasqueradedAndPodsOnTheSharedPortStillKeepTheirAddress() throws ConfigException {
        Map<String, ServicePort> ports = ports(service("Cluster", "Cluster", ""), NODE);

        // One port serves the ClusterIP and the node port: only pods keep their address on it.
        assertThat(ports.keySet()).containsExactly("http", "dns");
        assertThat(ports.get("http").listen()).hasSize(2);
        assertThat(source(ports, "http")).isEqualTo(UpstreamSource.client(PODS));
        assertThat(source(ports, "http").fromClient(ip("203.0.113.9"))).isFalse();
    }

    @Test
    void externalClusterTrafficOnAPortOfItsOwnIsMasqueraded() throws ConfigException {
        // internalTrafficPolicy Local splits the node port from the ClusterIP: kube-proxy masquerades it, whoever calls.
        Map<String, ServicePort> ports = ports(service("Cluster", "Local", ""), NODE);

        assertThat(source(ports, "http/external")).isEqualTo(UpstreamSource.BALANCER);
        assertThat(source(ports, "http")).isEqualTo(UpstreamSource.client(PODS));
    }

    @Test
    void theNodesOwnPodRangesDecideWhenItsNodeObjectGivesThem() throws ConfigException {
        String node = """
                ---
                apiVersion: v1
                kind: Node
                metadata: {name: node-a}
                spec: {podCIDRs: [10.244.7.0/24, "fd00:244:7::/64"]}
                """;
        Map<String, ServicePort> ports = ports(service("Local", "Cluster", "") + node, NODE);

        assertThat(source(ports, "http")).as("a pod of another node gets its replies through its own node")
                .isEqualTo(UpstreamSource.client(List.of(Cidr.parse("10.244.7.0/24").orElseThrow(),
                        Cidr.parse("fd00:244:7::/64").orElseThrow())));
        assertThat(source(ports, "http/external")).isEqualTo(UpstreamSource.client(List.of()));
    }

    @Test
    void withBothPoliciesLocalTheListenerlessPortServesPodsFromTheirAddress() throws ConfigException {
        Map<String, ServicePort> ports = ports(service("Local", "Local", ""), NODE);

        assertThat(ports.keySet()).contains("http", "http/external", "http/cluster");
        assertThat(source(ports, "http/cluster")).isEqualTo(UpstreamSource.client(PODS));
        assertThat(source(ports, "http")).isEqualTo(UpstreamSource.client(PODS));
        assertThat(source(ports, "http/external")).isEqualTo(UpstreamSource.client(List.of()));
    }

    @Test
    void withoutClusterCidrsOnlyExternalLocalTrafficKeepsItsSource() throws ConfigException {
        Map<String, ServicePort> ports = ports(service("Local", "Cluster", ""), NO_CLUSTER_CIDR);

        assertThat(source(ports, "http/external")).isEqualTo(UpstreamSource.client(List.of()));
        assertThat(source(ports, "http")).as("nothing tells a pod from an outside client").isEqualTo(UpstreamSource.BALANCER);
    }

    @Test
    void annotationNoneConnectsEverythingFromTheNode() throws ConfigException {
        Map<String, ServicePort> ports = ports(service("Local", "Cluster", "l4lb.dev/source-ip: none"), NODE);

        assertThat(ports.values()).extracting(p -> p.policy().upstreamSource()).containsOnly(UpstreamSource.BALANCER);
        assertThat(ports.values()).extracting(p -> p.policy().proxyProtocol()).containsOnly(ProxyProtocol.NONE);
    }

    @Test
    void annotationProxyV2SendsAHeaderOnEveryTcpPortFromTheNode() throws ConfigException {
        Map<String, ServicePort> ports = ports(service("Local", "Cluster", "l4lb.dev/source-ip: proxy-v2"), NODE);

        assertThat(ports.values()).extracting(p -> p.policy().upstreamSource()).containsOnly(UpstreamSource.BALANCER);
        assertThat(ports.get("http").policy().proxyProtocol()).isEqualTo(ProxyProtocol.V2);
        assertThat(ports.get("http/external").policy().proxyProtocol()).isEqualTo(ProxyProtocol.V2);
        assertThat(ports.get("dns").policy().proxyProtocol()).as("PROXY is TCP's").isEqualTo(ProxyProtocol.NONE);
    }

    @Test
    void anUnknownAnnotationValueIsReportedAndTakenAsTransparent() throws ConfigException {
        ProxierPlan plan = translate(service("Local", "Cluster", "l4lb.dev/source-ip: keep"), NODE);

        assertThat(plan.ignored()).containsExactly("shop/web: annotation l4lb.dev/source-ip: \"keep\" is not "
                + "transparent, proxy-v2 or none; taken as transparent");
        assertThat(plan.skipped()).as("the Service is served").isEmpty();
        assertThat(plan.services()).hasSize(1);
        assertThat(byName(plan).get("http/external").policy().upstreamSource()).isEqualTo(UpstreamSource.client(List.of()));
    }

    private static UpstreamSource source(Map<String, ServicePort> ports, String name) {
        return ports.get(name).policy().upstreamSource();
    }

    private static String service(String externalPolicy, String internalPolicy, String annotation) {
        return """
                apiVersion: v1
                kind: Service
                metadata:
                  name: web
                  namespace: shop
                  annotations: {%s}
                spec:
                  type: NodePort
                  clusterIP: 10.96.0.10
                  externalTrafficPolicy: %s
                  internalTrafficPolicy: %s
                  ports:
                    - {name: http, port: 80, targetPort: 8080, nodePort: 30080}
                    - {name: dns, port: 53, protocol: UDP, nodePort: 30053}
                """.formatted(annotation, externalPolicy, internalPolicy) + SLICE;
    }

    private static Map<String, ServicePort> ports(String yaml, NodeContext node) throws ConfigException {
        ProxierPlan plan = translate(yaml, node);
        assertThat(plan.skipped()).isEmpty();
        return byName(plan);
    }

    private static Map<String, ServicePort> byName(ProxierPlan plan) {
        return plan.services().get(0).ports().stream()
                .collect(Collectors.toMap(ServicePort::name, p -> p, (a, b) -> a, java.util.LinkedHashMap::new));
    }

    private static ProxierPlan translate(String yaml, NodeContext node) throws ConfigException {
        return ClusterServices.translate(KubeManifests.parse("test.yaml", yaml), node, new ProxyPortRange(40000, 40010));
    }

    private static InetAddress ip(String text) {
        return dev.l4lb.core.model.Addresses.parseIp(text).orElseThrow();
    }
}

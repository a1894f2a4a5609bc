package dev.l4lb.core.kube;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Set;

import org.junit.jupiter.api.Test;

import dev.l4lb.core.config.ConfigException;
import dev.l4lb.core.model.Addresses;
import dev.l4lb.core.model.Cidr;
import dev.l4lb.core.model.Protocol;

/** Which ports the node refuses before the handshake, from Services and EndpointSlices as the proxier reads them. */
class NoEndpointPortsTest {
    private static final InetAddress NODE_IP = ip("192.0.2.10");
    private static final Cidr PODS = Cidr.parse("10.244.0.0/16").orElseThrow();
    private static final NodeContext NODE_A = new NodeContext("node-a", Set.of(ip("127.0.0.1"), NODE_IP), List.of(),
            ip("0.0.0.0"), false, List.of(PODS));
    private static final InetSocketAddress CLUSTER_IP = new InetSocketAddress(ip("10.96.0.10"), 80);
    private static final InetSocketAddress NODE_PORT = new InetSocketAddress(ip("0.0.0.0"), 30080);

    @Test
    void aServiceWithEndpointsItMayUseIsNotRefused() throws ConfigException {
        assertThat(refused(service("Cluster", "Cluster") + slice("node-b", "{}"), NODE_A)).isEmpty();
        assertThat(refused(service("Local", "Cluster") + slice("node-a", "{}"), NODE_A)).isEmpty();
    }

    @Test
    void aServiceWithoutEndpointsIsRejectedOnItsClusterIpAndNodePortForEveryClient() throws ConfigException {
        List<NoEndpointPort> refused = refused(service("Cluster", "Cluster"), NODE_A);

        assertThat(refused).singleElement().satisfies(port -> {
            assertThat(port.label()).isEqualTo("shop/web:http");
            assertThat(port.protocol()).isEqualTo(Protocol.TCP);
            assertThat(port.refusal()).isEqualTo(NoEndpointPort.Refusal.REJECT);
            // The proxy listener is no destination of its own: the ClusterIP reaches it through its portal.
            assertThat(port.clusterIps()).containsExactly(CLUSTER_IP);
            assertThat(port.destinations()).containsExactly(NODE_PORT);
            assertThat(port.spared()).isEmpty();
        });
    }

    @Test
    void endpointsNoneOfWhichIsReadyOrServingCountAsNone() throws ConfigException {
        assertThat(refused(service("Local", "Cluster") + slice("node-a", "{ready: false, serving: false, terminating: true}"), NODE_A))
                .extracting(NoEndpointPort::refusal)
                .containsOnly(NoEndpointPort.Refusal.REJECT);
        // The terminating fallback serves, so it is no refusal.
        assertThat(refused(service("Cluster", "Cluster") + slice("node-b", "{ready: false, serving: true, terminating: true}"), NODE_A))
                .isEmpty();
    }

    @Test
    void aLocalNodePortWithoutALocalEndpointIsDroppedButSparesWhatItsShortCircuitServes() throws ConfigException {
        List<NoEndpointPort> refused = refused(service("Local", "Cluster") + slice("node-b", "{}"), NODE_A);

        assertThat(refused).singleElement().satisfies(port -> {
            assertThat(port.label()).isEqualTo("shop/web:http/external");
            assertThat(port.refusal()).isEqualTo(NoEndpointPort.Refusal.DROP);
            assertThat(port.destinations()).containsExactly(NODE_PORT);
            assertThat(port.clusterIps()).isEmpty();
            assertThat(port.spared()).hasValueSatisfying(inside -> {
                assertThat(inside.port()).isEqualTo("http"); // the ClusterIP port, with every endpoint
                assertThat(inside.ranges()).containsExactly(PODS);
                assertThat(inside.addresses()).contains(NODE_IP);
            });
        });
    }

    @Test
    void withBothPoliciesLocalTheClusterIpIsDroppedTooAndTheNodePortSparesWhatTheHiddenPortServes()
            throws ConfigException {
        List<NoEndpointPort> refused = refused(service("Local", "Local") + slice("node-b", "{}"), NODE_A);

        assertThat(refused).extracting(NoEndpointPort::label, NoEndpointPort::refusal).containsExactly(
                org.assertj.core.groups.Tuple.tuple("shop/web:http", NoEndpointPort.Refusal.DROP),
                org.assertj.core.groups.Tuple.tuple("shop/web:http/external", NoEndpointPort.Refusal.DROP));
        assertThat(refused.get(0).spared()).isEmpty();
        assertThat(refused.get(1).spared()).hasValueSatisfying(inside -> assertThat(inside.port()).isEqualTo("http/cluster"));
    }

    @Test
    void underTproxyTheClusterIpIsTheInterceptedAddress() throws ConfigException {
        List<NoEndpointPort> refused = refused(service("Cluster", "Cluster"), NODE_A.withTransparentTcp(true));

        assertThat(refused).singleElement().satisfies(port -> {
            assertThat(port.clusterIps()).containsExactly(CLUSTER_IP);
            assertThat(port.destinations()).containsExactly(NODE_PORT);
        });
    }

    private static List<NoEndpointPort> refused(String yaml, NodeContext node) throws ConfigException {
        ProxierPlan plan = ClusterServices.translate(KubeManifests.parse("test.yaml", yaml), node, new ProxyPortRange(40000, 40010));
        return NoEndpointPorts.of(plan);
    }

    private static String service(String externalPolicy, String internalPolicy) {
        return """
                apiVersion: v1
                kind: Service
                metadata: {name: web, namespace: shop}
                spec:
                  type: NodePort
                  clusterIP: 10.96.0.10
                  externalTrafficPolicy: %s
                  internalTrafficPolicy: %s
                  ports: [{name: http, port: 80, targetPort: 8080, nodePort: 30080}]
                """.formatted(externalPolicy, internalPolicy);
    }

    private static String slice(String node, String conditions) {
        return """
                ---
                apiVersion: discovery.k8s.io/v1
                kind: EndpointSlice
                metadata: {name: web-1, namespace: shop, labels: {kubernetes.io/service-name: web}}
                addressType: IPv4
                ports: [{name: http, port: 8080, protocol: TCP}]
                endpoints:
                  - {addresses: [10.1.0.2], nodeName: %s, conditions: %s}
                """.formatted(node, conditions);
    }

    private static InetAddress ip(String text) {
        return Addresses.parseIp(text).orElseThrow();
    }
}

package dev.l4lb.netty.kube;

import static dev.l4lb.netty.kube.KubeFixtures.DROPPED;
import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import dev.l4lb.core.kube.ClusterObjects;
import dev.l4lb.core.kube.KubeManifests;
import dev.l4lb.core.kube.NodeContext;
import dev.l4lb.core.model.Addresses;
import dev.l4lb.core.model.Cidr;
import dev.l4lb.netty.echo.EchoServer;
import dev.l4lb.netty.testing.NoLeaks;
import dev.l4lb.netty.testing.Ports;

/**
 * Who answers a connection, by the traffic policies and endpoint conditions, on real sockets:
 * each row is one reachability outcome kube-proxy gives (the seeds' expected outcomes), run
 * through the whole proxier (manifests, translation, balancer) against two echo pods, 127.0.0.11
 * on node-a and 127.0.0.12 on node-b. The node's address is 127.0.0.1 and its pods' range
 * (--cluster-cidr) 127.0.0.64/26; a client from outside the cluster connects from 127.0.0.200.
 */
@ExtendWith(NoLeaks.class)
class TrafficPolicyReachabilityTest {
    private static final String A = "127.0.0.11";
    private static final String B = "127.0.0.12";
    /** Connections per row: enough for round-robin to show every pod it may use. */
    private static final int CONNECTIONS = 8;

    private static int podPort;
    private static EchoServer pods;

    enum Via { CLUSTER_IP, NODE_PORT }

    /** Where the client is: its source address. */
    enum From {
        OUTSIDE("127.0.0.200"), NODE("127.0.0.1"), POD("127.0.0.70");

        final InetAddress address;

        From(String address) {
            this.address = Addresses.parseIp(address).orElseThrow();
        }
    }

    /**
     * @param behaviour what kube-proxy does, as the seeds state it
     * @param node      the node the proxier runs on
     */
    record Row(String behaviour, String node, String externalPolicy, String internalPolicy, String conditionsA,
               String conditionsB, Via via, From from, Set<String> answers) {
        @Override
        public String toString() {
            return behaviour;
        }
    }

    private static final String READY = "{ready: true, serving: true, terminating: false}";
    private static final String TERMINATING_SERVING = "{ready: false, serving: true, terminating: true}";
    private static final String TERMINATING_GONE = "{ready: false, serving: false, terminating: true}";

    static Stream<Row> rows() {
        return Stream.of(
                new Row("seeds 001/003: externalTrafficPolicy Local on a node with a local endpoint: the node port reaches only that endpoint",
                        "node-a", "Local", "Cluster", READY, READY, Via.NODE_PORT, From.OUTSIDE, Set.of(A)),
                new Row("seeds 001/003: externalTrafficPolicy Local on a node without local endpoints: the connection is dropped",
                        "node-c", "Local", "Cluster", READY, READY, Via.NODE_PORT, From.OUTSIDE, Set.of(DROPPED)),
                new Row("externalTrafficPolicy Cluster: the node port reaches every endpoint, on any node",
                        "node-c", "Cluster", "Cluster", READY, READY, Via.NODE_PORT, From.OUTSIDE, Set.of(A, B)),
                new Row("externalTrafficPolicy Local leaves ClusterIP traffic to every endpoint",
                        "node-c", "Local", "Cluster", READY, READY, Via.CLUSTER_IP, From.POD, Set.of(A, B)),
                new Row("internalTrafficPolicy Local on a node with a local endpoint: ClusterIP traffic reaches only that endpoint",
                        "node-b", "Cluster", "Local", READY, READY, Via.CLUSTER_IP, From.POD, Set.of(B)),
                new Row("internalTrafficPolicy Local on a node without local endpoints: ClusterIP traffic is dropped",
                        "node-c", "Cluster", "Local", READY, READY, Via.CLUSTER_IP, From.POD, Set.of(DROPPED)),
                new Row("internalTrafficPolicy Local leaves node port traffic to every endpoint",
                        "node-c", "Cluster", "Local", READY, READY, Via.NODE_PORT, From.OUTSIDE, Set.of(A, B)),
                new Row("terminating fallback: with no ready endpoint, a serving terminating one takes connections",
                        "node-c", "Cluster", "Cluster", TERMINATING_SERVING, TERMINATING_GONE, Via.CLUSTER_IP, From.POD, Set.of(A)),
                new Row("a ready endpoint is used before a serving terminating one",
                        "node-c", "Cluster", "Cluster", TERMINATING_SERVING, READY, Via.CLUSTER_IP, From.POD, Set.of(B)),
                new Row("no endpoint ready or serving: the connection is dropped",
                        "node-c", "Cluster", "Cluster", TERMINATING_GONE, TERMINATING_GONE, Via.CLUSTER_IP, From.POD, Set.of(DROPPED)),
                new Row("terminating fallback under externalTrafficPolicy Local: the local serving terminating endpoint",
                        "node-a", "Local", "Cluster", TERMINATING_SERVING, READY, Via.NODE_PORT, From.OUTSIDE, Set.of(A)),
                new Row("kube-proxy: externalTrafficPolicy Local on a node without local endpoints still serves a client on the node itself, from every endpoint",
                        "node-c", "Local", "Cluster", READY, READY, Via.NODE_PORT, From.NODE, Set.of(A, B)),
                new Row("kube-proxy: ... and a pod in the cluster CIDR",
                        "node-c", "Local", "Cluster", READY, READY, Via.NODE_PORT, From.POD, Set.of(A, B)),
                new Row("kube-proxy: with both policies Local, a pod reaches every endpoint through the node port",
                        "node-b", "Local", "Local", READY, READY, Via.NODE_PORT, From.POD, Set.of(A, B)),
                new Row("kube-proxy: with both policies Local, a pod reaches only the local endpoint through the ClusterIP",
                        "node-b", "Local", "Local", READY, READY, Via.CLUSTER_IP, From.POD, Set.of(B)));
    }

    @BeforeAll
    static void startPods() throws Exception {
        podPort = Ports.free();
        pods = KubeFixtures.pods(podPort, 11, 12);
    }

    @AfterAll
    static void stopPods() {
        pods.close();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("rows")
    void whoAnswers(Row row) throws Exception {
        int nodePort = Ports.free();
        ClusterObjects objects = KubeManifests.parse("row.yaml", """
                apiVersion: v1
                kind: Service
                metadata: {name: web, namespace: shop}
                spec:
                  type: NodePort
                  clusterIP: 10.96.0.10
                  externalTrafficPolicy: %s
                  internalTrafficPolicy: %s
                  ports: [{name: http, port: 80, targetPort: 8080, nodePort: %d}]
                ---
                apiVersion: discovery.k8s.io/v1
                kind: EndpointSlice
                metadata: {name: web-1, namespace: shop, labels: {kubernetes.io/service-name: web}}
                addressType: IPv4
                ports: [{name: http, port: %d, protocol: TCP}]
                endpoints:
                  - {addresses: [%s], nodeName: node-a, conditions: %s}
                  - {addresses: [%s], nodeName: node-b, conditions: %s}
                """.formatted(row.externalPolicy(), row.internalPolicy(), nodePort, podPort, A, row.conditionsA(), B,
                row.conditionsB()));

        NodeContext node = new NodeContext(row.node(), Set.of(KubeFixtures.LOOPBACK),
                List.of(Cidr.parse("127.0.0.1/32").orElseThrow()), KubeFixtures.LOOPBACK, false,
                List.of(Cidr.parse("127.0.0.64/26").orElseThrow()));
        try (ProxierRuntime runtime = KubeFixtures.start(node, () -> objects)) {
            InetSocketAddress target = row.via() == Via.NODE_PORT
                    ? new InetSocketAddress(KubeFixtures.LOOPBACK, nodePort)
                    : KubeFixtures.listener(runtime, "shop/web", "http");
            Set<String> answered = new TreeSet<>();
            for (int i = 0; i < CONNECTIONS; i++) {
                answered.add(KubeFixtures.whoAnswers(target, row.from().address));
            }
            assertThat(answered).as(row.behaviour()).isEqualTo(new TreeSet<>(row.answers()));
        }
    }
}

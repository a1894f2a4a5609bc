package dev.l4lb.netty.kube;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;

import tools.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import dev.l4lb.core.kube.ClusterObjects;
import dev.l4lb.core.kube.KubeManifests;
import dev.l4lb.core.kube.NodeContext;
import dev.l4lb.core.model.Addresses;
import dev.l4lb.core.model.Cidr;
import dev.l4lb.core.model.HealthPolicy;
import dev.l4lb.core.sched.Backend;
import dev.l4lb.core.table.Route;
import dev.l4lb.netty.kube.portal.PortalLeftovers;
import dev.l4lb.netty.kube.portal.ReplyPath;
import dev.l4lb.netty.log.ConnectionLog;
import dev.l4lb.netty.testing.AdminHttp;
import dev.l4lb.netty.testing.HostCommands;
import dev.l4lb.netty.testing.Ports;
import dev.l4lb.netty.testing.TwoNodeLab;
import dev.l4lb.netty.transport.Transport;

/**
 * What pods see as their clients' addresses when the whole proxier runs on node A of a
 * {@link TwoNodeLab}: the outside client's own address through a node port of an
 * externalTrafficPolicy Local Service, a client pod's own address through a ClusterIP (also to
 * the pod on node B), the node's address where a Service opts out or where a pod's replies do not
 * come back through the node, under REDIRECT and TPROXY portals; and the kernel rules that make
 * it, which leak nothing and are gone after close and after {@code --cleanup}. Root only.
 */
class ClientSourceNetnsTest {
    private static final Transport TRANSPORT = Transport.select("auto");
    private static final InetAddress WEB_IP = ip("10.96.216.10");
    private static final InetAddress PLAIN_IP = ip("10.96.216.11");

    private static TwoNodeLab lab;

    /** Whatever a test leaves (a runtime it could not close), and a check that nothing of ours is left. */
    @RegisterExtension
    final AfterEachCallback noRuleLeft = context -> {
        PortalLeftovers.remove();
        assertThat(HostCommands.output("iptables-save", "-t", "mangle")).doesNotContain("L4LB-REPLIES");
        assertThat(HostCommands.output("ip", "-4", "rule")).doesNotContain("lookup 19509");
        assertThat(HostCommands.output("ip6tables-save", "-t", "mangle")).doesNotContain("L4LB-REPLIES");
        assertThat(HostCommands.output("iptables-save", "-t", "filter")).doesNotContain("L4LB-NO-ENDPOINTS");
    };

    @BeforeAll
    static void buildTheLab() {
        Assumptions.assumeTrue(TRANSPORT != Transport.NIO, "transparent sockets need epoll or io_uring");
        lab = TwoNodeLab.start();
    }

    @AfterAll
    static void removeTheLab() {
        if (lab != null) {
            lab.close();
        }
    }

    /** Each portal mode once, each native transport once (their transparent sockets are set up apart). */
    static Stream<Arguments> portalsAndTransports() {
        return Stream.of(Arguments.of(ProxierRuntime.Portals.REDIRECT, Transport.IO_URING),
                Arguments.of(ProxierRuntime.Portals.TPROXY, Transport.EPOLL));
    }

    @ParameterizedTest
    @MethodSource("portalsAndTransports")
    void podsSeeTheClientsOwnAddressWhereKubeProxyKeepsIt(ProxierRuntime.Portals portals, Transport transport) throws Exception {
        Assumptions.assumeTrue(transport.isAvailable(), transport + " is not available here");
        int nodePort = Ports.free();
        try (ProxierRuntime runtime = start(portals, services(nodePort), List.of(), transport)) {
            assertThat(runtime.balancer().clientSources().offReason(false)).isEmpty();

            // From outside, through the node port of a Local Service: the pod sees the outside client.
            assertThat(lab.ask(lab.outsideNs, lab.nodeA, nodePort)).isEqualTo(lab.outside.getHostAddress());
            // A pod calling the ClusterIP: both pods, on this node and on node B, see the calling pod.
            for (int i = 0; i < 6; i++) {
                assertThat(lab.ask(lab.podCNs, WEB_IP, 80)).isEqualTo(lab.podC.getHostAddress());
            }
            assertThat(established(runtime, "web", "http")).as("both endpoints were used").allMatch(n -> n >= 3);
            // The node itself is not a pod: kube-proxy masquerades it, and its address is what a pod sees.
            assertThat(askFromTheNode(WEB_IP, 80)).isIn(lab.nodeAToPodA.getHostAddress(), lab.nodeAToNodeB.getHostAddress());
            // A Service annotated l4lb.dev/source-ip: none is connected from the node.
            assertThat(lab.ask(lab.podCNs, PLAIN_IP, 80)).isEqualTo(lab.nodeAToPodA.getHostAddress());

            JsonNode external = port(runtime, "web", "http/external");
            assertThat(external.at("/upstreamSource/mode").asText()).isEqualTo("client");
            assertThat(external.at("/upstreamSource/offIpv4").isNull()).isTrue();
            assertThat(port(runtime, "web", "http").at("/upstreamSource/clients").toString())
                    .isEqualTo("[\"" + lab.clusterCidr + "\"]");
            assertThat(port(runtime, "plain", "http").at("/upstreamSource/mode").asText()).isEqualTo("balancer");

            // 1,000 connections: every one seen with the outside client's address; no socket, rule or route left over.
            List<String> rulesBefore = ourRules();
            long descriptorsBefore = openDescriptors();
            assertThat(lab.askMany(lab.outsideNs, lab.nodeA, nodePort, 1000)).isEqualTo("1000 " + lab.outside.getHostAddress());
            await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
                assertThat(runtime.balancer().snapshot().routes()).allMatch(r -> r.counters().active() == 0);
                assertThat(HostCommands.output("ss", "-Htn", "state", "established",
                        "( dport = :" + TwoNodeLab.POD_PORT + " and dst " + lab.clusterCidr + " )")).isBlank();
            });
            assertThat(ourRules()).isEqualTo(rulesBefore);
            assertThat(openDescriptors()).isLessThan(descriptorsBefore + 50);
            assertThat(runtime.balancer().clientSources().bypassing()).isEmpty();
        }
        // Closed: the chain, its jump, the ip rule and the route table are gone.
        assertThat(HostCommands.output("iptables-save", "-t", "mangle")).doesNotContain("L4LB-REPLIES");
        assertThat(HostCommands.output("ip", "-4", "rule")).doesNotContain("lookup 19509");
        assertThat(HostCommands.quietly("ip", "-4", "route", "show", "table", "19509")).isBlank();
    }

    /** The same in IPv6: the reply path's ip6tables chain and IPv6 policy route, a transparent IPv6 socket. */
    @Test
    void anIpv6ClientIsSeenWithItsOwnAddressToo() throws Exception {
        int nodePort = Ports.free();
        String yaml = """
                apiVersion: v1
                kind: Service
                metadata: {name: web6, namespace: lab}
                spec:
                  type: NodePort
                  ipFamilies: [IPv6]
                  clusterIP: "fd00:96:216::10"
                  externalTrafficPolicy: Local
                  ports: [{name: http, port: 80, targetPort: 8080, nodePort: %d}]
                ---
                apiVersion: discovery.k8s.io/v1
                kind: EndpointSlice
                metadata: {name: web6-1, namespace: lab, labels: {kubernetes.io/service-name: web6}}
                addressType: IPv6
                ports: [{name: http, port: 8080, protocol: TCP}]
                endpoints: [{addresses: ["%s"], nodeName: node-a}]
                """.formatted(nodePort, lab.podA6.getHostAddress());
        try (ProxierRuntime runtime = start(ProxierRuntime.Portals.REDIRECT, yaml, List.of(lab.nodeA6Cidr), TRANSPORT)) {
            assertThat(runtime.balancer().clientSources().offReason(true)).isEmpty();
            assertThat(ip(lab.ask(lab.outsideNs, lab.nodeA6, nodePort))).isEqualTo(lab.outside6);
            assertThat(HostCommands.output("ip6tables-save", "-t", "mangle")).contains("-A L4LB-REPLIES");
            assertThat(HostCommands.output("ip", "-6", "rule")).contains("lookup 19509");
        }
        assertThat(HostCommands.output("ip6tables-save", "-t", "mangle")).doesNotContain("L4LB-REPLIES");
        assertThat(HostCommands.output("ip", "-6", "rule")).doesNotContain("lookup 19509");
    }

    /**
     * Pod D's replies to the outside are lost, not routed through node A: a connect from the
     * client's address gets no answer, so the proxier connects from the node's instead, reports
     * the endpoint on the API, and connects its next outside clients from the node at once.
     */
    @Test
    void anEndpointWhoseRepliesBypassTheNodeIsConnectedFromTheNodeAndReported() throws Exception {
        int nodePort = Ports.free();
        try (ProxierRuntime runtime = start(ProxierRuntime.Portals.REDIRECT, lostService(nodePort))) {
            assertThat(lab.ask(lab.outsideNs, lab.nodeA, nodePort)).isEqualTo(lab.nodeAToPodD.getHostAddress());
            assertThat(runtime.balancer().clientSources().fromNodeAfterFailure()).as("after a connect that timed out").isEqualTo(1);

            InetSocketAddress podD = new InetSocketAddress(lab.podD, TwoNodeLab.POD_PORT);
            assertThat(runtime.balancer().clientSources().bypassing()).containsOnlyKeys(podD);
            JsonNode endpoint = port(runtime, "lost", "http/external").at("/endpoints/0");
            assertThat(endpoint.at("/address").asText()).isEqualTo(Addresses.format(podD));
            assertThat(endpoint.at("/repliesBypassNode").asText()).isNotEmpty();
            assertThat(endpoint.at("/connectFailures").asLong()).as("not the endpoint's failure").isZero();

            for (int i = 0; i < 3; i++) {
                assertThat(lab.ask(lab.outsideNs, lab.nodeA, nodePort)).isEqualTo(lab.nodeAToPodD.getHostAddress());
            }
            assertThat(runtime.balancer().clientSources().fromNodeAfterFailure()).as("straight from the node").isEqualTo(1);
        }
    }

    /**
     * Where the reply could not come back it is not tried: pods on one bridge answer each other
     * directly, and an endpoint outside the pods' range (node B's own address, as the API
     * server's endpoints are) answers the client from its own route. Both are connected from the
     * node at once, never after a timeout; from outside, the bridged pod still sees the client.
     */
    @Test
    void bridgedPodsAndEndpointsOutsideThePodsAreConnectedFromTheNodeWithoutATry() throws Exception {
        int nodePort = Ports.free();
        String yaml = """
                apiVersion: v1
                kind: Service
                metadata: {name: bridged, namespace: lab}
                spec:
                  type: NodePort
                  clusterIP: 10.96.216.13
                  externalTrafficPolicy: Local
                  ports: [{name: http, port: 80, targetPort: 8080, nodePort: %d}]
                """.formatted(nodePort)
                + KubeFixtures.onePodSlice("lab", "bridged", "http", "TCP", new InetSocketAddress(lab.podF, TwoNodeLab.POD_PORT),
                "node-a")
                + """
                ---
                apiVersion: v1
                kind: Service
                metadata: {name: host, namespace: lab}
                spec:
                  clusterIP: 10.96.216.14
                  ports: [{name: http, port: 80, targetPort: 8080}]
                """
                + KubeFixtures.onePodSlice("lab", "host", "http", "TCP", new InetSocketAddress(lab.nodeB, TwoNodeLab.POD_PORT),
                "node-b");
        try (ProxierRuntime runtime = start(ProxierRuntime.Portals.REDIRECT, yaml)) {
            assertThat(lab.ask(lab.podENs, ip("10.96.216.13"), 80)).isEqualTo(lab.nodeAOnBridge.getHostAddress());
            assertThat(lab.ask(lab.podCNs, ip("10.96.216.14"), 80)).isEqualTo(lab.nodeAToNodeB.getHostAddress());
            assertThat(lab.ask(lab.outsideNs, lab.nodeA, nodePort)).isEqualTo(lab.outside.getHostAddress());

            assertThat(runtime.balancer().clientSources().fromNodeAfterFailure()).as("no connect from a client's address failed")
                    .isZero();
            assertThat(runtime.balancer().clientSources().bypassing()).isEmpty();
        }
    }

    /** A run that never closed (killed) left its reply path: {@code lb kube --cleanup} removes it. */
    @Test
    void cleanupRemovesAReplyPathAnEarlierRunLeft() {
        ReplyPath left = ReplyPath.open(List.of(Cidr.parse(lab.clusterCidr).orElseThrow()));
        assertThat(left.status().ipv4()).isNull();
        assertThat(HostCommands.output("iptables-save", "-t", "mangle"))
                .contains("-A L4LB-REPLIES -s " + lab.clusterCidr + " -p tcp -m conntrack --ctdir REPLY -m socket --transparent"
                        + " -j MARK --set-xmark 0x40/0x40");
        assertThat(HostCommands.output("ip", "-4", "rule")).contains("fwmark 0x40/0x40 lookup 19509");

        assertThat(PortalLeftovers.remove()).isEmpty();

        assertThat(HostCommands.output("iptables-save", "-t", "mangle")).doesNotContain("L4LB-REPLIES");
        assertThat(HostCommands.output("ip", "-4", "rule")).doesNotContain("lookup 19509");
        assertThat(HostCommands.quietly("ip", "-4", "route", "show", "table", "19509")).isBlank();
    }

    private static ProxierRuntime start(ProxierRuntime.Portals portals, String yaml) throws Exception {
        return start(portals, yaml, List.of(), TRANSPORT);
    }

    /** @param nodePortAddresses --nodeport-addresses: empty for every address (0.0.0.0) */
    private static ProxierRuntime start(ProxierRuntime.Portals portals, String yaml, List<String> nodePortAddresses,
                                        Transport transport) throws Exception {
        ClusterObjects objects = KubeManifests.parse("lab.yaml", yaml);
        boolean tproxy = portals == ProxierRuntime.Portals.TPROXY;
        Set<InetAddress> nodeAddresses = Set.of(lab.nodeA, lab.nodeAToPodA, lab.nodeAToPodD, lab.nodeAToNodeB,
                ip(lab.podC.getHostAddress().replaceAll("\\.6$", ".5")), lab.nodeAOnBridge, lab.nodeA6);
        NodeContext node = new NodeContext("node-a", nodeAddresses,
                nodePortAddresses.stream().map(c -> Cidr.parse(c).orElseThrow()).toList(), ip("0.0.0.0"), tproxy,
                List.of(Cidr.parse(lab.clusterCidr).orElseThrow()));
        ProxierRuntime.Settings settings = KubeFixtures.settings(node, portals, List.of(Cidr.parse(lab.serviceCidr).orElseThrow()),
                tproxy ? Ports.loopback(Ports.free()) : null);
        AtomicReference<ClusterObjects> source = new AtomicReference<>(objects);
        return ProxierRuntime.start(settings, KubeFixtures.admin(), transport, 2, ConnectionLog.off(), onChange -> source::get);
    }

    /**
     * web: a NodePort Service, externalTrafficPolicy Local, with pod A on node A and pod B on node
     * B; plain: a ClusterIP Service with pod A that opts out of keeping the client's address.
     */
    private static String services(int nodePort) {
        return """
                apiVersion: v1
                kind: Service
                metadata: {name: web, namespace: lab}
                spec:
                  type: NodePort
                  clusterIP: %s
                  externalTrafficPolicy: Local
                  ports: [{name: http, port: 80, targetPort: 8080, nodePort: %d}]
                ---
                apiVersion: discovery.k8s.io/v1
                kind: EndpointSlice
                metadata: {name: web-1, namespace: lab, labels: {kubernetes.io/service-name: web}}
                addressType: IPv4
                ports: [{name: http, port: 8080, protocol: TCP}]
                endpoints:
                  - {addresses: ["%s"], nodeName: node-a}
                  - {addresses: ["%s"], nodeName: node-b}
                ---
                apiVersion: v1
                kind: Service
                metadata:
                  name: plain
                  namespace: lab
                  annotations: {l4lb.dev/source-ip: none}
                spec:
                  clusterIP: %s
                  ports: [{name: http, port: 80, targetPort: 8080}]
                """.formatted(WEB_IP.getHostAddress(), nodePort, lab.podA.getHostAddress(), lab.podB.getHostAddress(),
                PLAIN_IP.getHostAddress())
                + KubeFixtures.onePodSlice("lab", "plain", "http", "TCP", new InetSocketAddress(lab.podA, TwoNodeLab.POD_PORT),
                "node-a");
    }

    /** lost: a NodePort Service, externalTrafficPolicy Local, whose one pod (D) does not route its replies through the node. */
    private static String lostService(int nodePort) {
        return """
                apiVersion: v1
                kind: Service
                metadata: {name: lost, namespace: lab}
                spec:
                  type: NodePort
                  clusterIP: 10.96.216.12
                  externalTrafficPolicy: Local
                  ports: [{name: http, port: 80, targetPort: 8080, nodePort: %d}]
                """.formatted(nodePort)
                + KubeFixtures.onePodSlice("lab", "lost", "http", "TCP", new InetSocketAddress(lab.podD, TwoNodeLab.POD_PORT),
                "node-a");
    }

    /** Connects from this process (the node) and returns the address the pod saw. */
    private static String askFromTheNode(InetAddress address, int port) throws IOException {
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress(address, port), 3000);
            socket.setSoTimeout(3000);
            return new String(socket.getInputStream().readAllBytes(), StandardCharsets.US_ASCII).strip();
        }
    }

    /** Connections established to each endpoint of a balancer port. */
    private static List<Long> established(ProxierRuntime runtime, String service, String port) {
        Route route = runtime.balancer().snapshot().routes().stream()
                .filter(r -> r.service().name().equals(service) && r.port().name().equals(port)).findFirst().orElseThrow();
        return route.backends().stream().map(Backend::counters).map(c -> c.established()).toList();
    }

    private static JsonNode port(ProxierRuntime runtime, String service, String port) {
        JsonNode services = AdminHttp.json(AdminHttp.get(runtime.admin().metricsAddress(), "/api/v1/services")).get("services");
        for (JsonNode node : services) {
            if (node.get("service").asText().equals("lab/" + service) && node.get("port").asText().equals(port)) {
                return node;
            }
        }
        throw new AssertionError("no port " + service + "/" + port + " in " + services);
    }

    /** Our rules and routes as the kernel lists them: the reply path's chain, jump, ip rule and route. */
    private static List<String> ourRules() {
        List<String> rules = new ArrayList<>();
        HostCommands.output("iptables-save", "-t", "mangle").lines().filter(l -> l.contains("L4LB")).forEach(rules::add);
        HostCommands.output("ip", "-4", "rule").lines().filter(l -> l.contains("19509")).forEach(rules::add);
        rules.addAll(HostCommands.quietly("ip", "-4", "route", "show", "table", "19509").lines().toList());
        return rules;
    }

    private static long openDescriptors() throws IOException {
        try (var fds = Files.list(Path.of("/proc/self/fd"))) {
            return fds.count();
        }
    }

    private static InetAddress ip(String text) {
        return Addresses.parseIp(text).orElseThrow();
    }
}

package dev.l4lb.netty.kube.portal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.ConnectException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.PortUnreachableException;
import java.net.Socket;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.AtomicReference;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.RegisterExtension;

import dev.l4lb.core.kube.ClusterObjects;
import dev.l4lb.core.kube.KubeManifests;
import dev.l4lb.core.kube.NoEndpointPort;
import dev.l4lb.core.kube.NodeContext;
import dev.l4lb.core.model.Addresses;
import dev.l4lb.core.model.Cidr;
import dev.l4lb.core.model.Protocol;
import dev.l4lb.core.sched.Backend;
import dev.l4lb.core.table.Outcome;
import dev.l4lb.core.table.PortCounters;
import dev.l4lb.core.table.Route;
import dev.l4lb.netty.echo.EchoServer;
import dev.l4lb.netty.kube.KubeFixtures;
import dev.l4lb.netty.kube.ProxierRuntime;
import dev.l4lb.netty.log.ConnectionLog;
import dev.l4lb.netty.testing.Closer;
import dev.l4lb.netty.testing.HostCommands;
import dev.l4lb.netty.testing.NoLeaks;
import dev.l4lb.netty.testing.Ports;
import dev.l4lb.netty.transport.Transport;

/**
 * Services without (local) endpoints on a real kernel, as kube-proxy leaves them: the node is this
 * test's process in the root namespace, running the whole proxier with REDIRECT portals; an
 * external client and a pod share a namespace of their own behind a veth pair (the pod is its
 * second address, which the proxier is told is in the cluster CIDR). Root only; the namespace is
 * removed after the class and every rule after each test, also when one fails.
 */
@ExtendWith(NoLeaks.class)
class NoEndpointsNetnsTest {
    private static final Transport TRANSPORT = Transport.select("auto");
    private static final long PID = ProcessHandle.current().pid();
    private static final String NS = "l4lb-ne-" + PID;
    /** Interface names are at most 15 characters; a pid has at most 7 digits. */
    private static final String NODE_IF = "l4e" + PID + "n";
    private static final String CLIENT_IF = "l4e" + PID + "c";
    /** A private /29 per run: 10.214.<octet>.1 the node, .2 the external client, .3 the pod. */
    private static final int OCTET = 100 + (int) (PID % 100);
    private static final InetAddress NODE = ip("10.214." + OCTET + ".1");
    private static final InetAddress CLIENT = ip("10.214." + OCTET + ".2");
    private static final InetAddress POD = ip("10.214." + OCTET + ".3");
    private static final InetAddress NODE6 = ip("fd00:214:" + OCTET + "::1");
    private static final InetAddress CLIENT6 = ip("fd00:214:" + OCTET + "::2");
    private static final String SERVICE_RANGE = "10.96.214.0/24";
    private static final String SERVICE_RANGE6 = "fd00:96:214::/112";
    private static final InetAddress LOCAL_SERVICE_IP = ip("10.96.214.10");
    private static final InetAddress EMPTY_SERVICE_IP = ip("10.96.214.30");
    private static final InetAddress EMPTY_SERVICE_IP6 = ip("fd00:96:214::30");
    /** The remote endpoint (node-b) and, from the second sync, the local one (node-a): echo pods on loopback. */
    private static final InetAddress REMOTE_POD = ip("127.0.0.21");
    private static final InetAddress LOCAL_POD = ip("127.0.0.22");

    /** Registered first, so that it runs after the Closer has closed the proxier: the net under it. */
    @RegisterExtension
    @Order(1)
    final AfterEachCallback noRuleLeft = context -> removeEveryRule();

    @RegisterExtension
    @Order(2)
    final Closer closer = new Closer();

    @BeforeAll
    static void createTheClientNamespace() {
        HostCommands.requireRootAnd("it creates a network namespace and iptables rules",
                "ip", "iptables", "iptables-restore", "iptables-save", "ip6tables-save", "socat");
        removeTheClientNamespace();
        run("ip", "netns", "add", NS);
        run("ip", "link", "add", NODE_IF, "type", "veth", "peer", "name", CLIENT_IF);
        run("ip", "link", "set", CLIENT_IF, "netns", NS);
        run("ip", "addr", "add", NODE.getHostAddress() + "/29", "dev", NODE_IF);
        run("ip", "link", "set", NODE_IF, "up");
        // The client's address first: it is the primary one, which connections leave from unless bound.
        run("ip", "netns", "exec", NS, "ip", "addr", "add", CLIENT.getHostAddress() + "/29", "dev", CLIENT_IF);
        run("ip", "netns", "exec", NS, "ip", "addr", "add", POD.getHostAddress() + "/29", "dev", CLIENT_IF);
        run("ip", "netns", "exec", NS, "ip", "link", "set", CLIENT_IF, "up");
        run("ip", "netns", "exec", NS, "ip", "link", "set", "lo", "up");
        run("ip", "netns", "exec", NS, "ip", "route", "add", "10.96.0.0/12", "via", NODE.getHostAddress());
        // The node's own packets to the test's service ranges go to the namespace, never out of the machine.
        run("ip", "route", "add", SERVICE_RANGE, "via", CLIENT.getHostAddress(), "dev", NODE_IF);
        run("ip", "addr", "add", NODE6.getHostAddress() + "/64", "dev", NODE_IF, "nodad");
        run("ip", "netns", "exec", NS, "ip", "addr", "add", CLIENT6.getHostAddress() + "/64", "dev", CLIENT_IF, "nodad");
        run("ip", "-6", "route", "add", SERVICE_RANGE6, "via", CLIENT6.getHostAddress(), "dev", NODE_IF);
    }

    @AfterAll
    static void removeTheClientNamespace() {
        runQuietly("ip", "netns", "del", NS);
        runQuietly("ip", "link", "del", NODE_IF); // gone with the namespace, unless that was never made
    }

    private static void removeEveryRule() {
        assertThat(PortalLeftovers.remove()).isEmpty();
        for (String save : List.of("iptables-save", "ip6tables-save")) {
            assertThat(run(save)).doesNotContain("L4LB-NO-ENDPOINTS", "KUBE-PORTALS", "L4LB-TPROXY", "L4LB-REPLIES");
        }
    }

    /**
     * (a) externalTrafficPolicy Local, only a remote endpoint: the external client's SYN is dropped
     * (its connect times out, the balancer saw nothing) while the pod gets through to the remote
     * endpoint by the short circuit; (b) a sync that adds a local endpoint lets the client in;
     * (d) closing leaves no rule.
     */
    @Test
    void aLocalNodePortWithoutALocalEndpointDropsExternalClientsUntilOneIsAdded() throws Exception {
        int podPort = Ports.free();
        EchoServer pods = closer.add(EchoServer.start(List.of(new InetSocketAddress(REMOTE_POD, podPort),
                new InetSocketAddress(LOCAL_POD, podPort)), Transport.NIO, 1));
        int nodePort = Ports.free();
        AtomicReference<ClusterObjects> objects = new AtomicReference<>(
                localService(nodePort, podPort, endpoint(REMOTE_POD, "node-b")));
        ProxierRuntime runtime = closer.add(startProxier(objects));

        assertThat(run("iptables-save", "-t", "filter")).contains(
                "-A INPUT -m comment --comment \"l4lb: refuse services without (local) endpoints before the handshake\""
                        + " -j L4LB-NO-ENDPOINTS",
                "--dport " + nodePort + " -m comment --comment \"netns/local:http/external has no local endpoints\" -j DROP");
        assertThat(exitFromTheClient(NODE, nodePort)).as("timed out: no SYN-ACK").isEqualTo(124);
        assertThat(handled(route(runtime, "http/external"))).as("connections the balancer saw").isZero();

        // The pod (in the cluster CIDR) is spared, and served by the remote endpoint.
        assertThat(fromThePod(NODE, nodePort, "pod-via-short-circuit")).isEqualTo("pod-via-short-circuit");
        assertThat(established(route(runtime, "http"), REMOTE_POD)).isEqualTo(1);

        objects.set(localService(nodePort, podPort, endpoint(REMOTE_POD, "node-b") + endpoint(LOCAL_POD, "node-a")));
        runtime.proxier().syncNow();

        assertThat(run("iptables-save", "-t", "filter")).doesNotContain("has no local endpoints");
        assertThat(fromTheClient(NODE, nodePort, "served-locally")).isEqualTo("served-locally");
        assertThat(established(route(runtime, "http/external"), LOCAL_POD)).isEqualTo(1);

        runtime.close();
        for (String save : List.of("iptables-save", "ip6tables-save")) {
            assertThat(run(save)).doesNotContain("L4LB-NO-ENDPOINTS");
        }
    }

    /**
     * (c) A Service without endpoints: its node port and ClusterIP, IPv4 and IPv6, refuse at once,
     * from the client's namespace and from the node itself, and the balancer never sees them.
     */
    @Test
    void aServiceWithoutEndpointsIsRefusedAtOnceFromOutsideAndFromTheNode() throws Exception {
        int nodePort = Ports.free();
        AtomicReference<ClusterObjects> objects = new AtomicReference<>(KubeManifests.parse("empty.yaml", """
                apiVersion: v1
                kind: Service
                metadata: {name: empty, namespace: netns}
                spec:
                  type: NodePort
                  ipFamilyPolicy: RequireDualStack
                  ipFamilies: [IPv4, IPv6]
                  clusterIP: "%s"
                  clusterIPs: ["%s", "%s"]
                  ports: [{name: http, port: 80, nodePort: %d}]
                """.formatted(EMPTY_SERVICE_IP.getHostAddress(), EMPTY_SERVICE_IP.getHostAddress(),
                EMPTY_SERVICE_IP6.getHostAddress(), nodePort)));
        ProxierRuntime runtime = closer.add(startProxier(objects));
        assertThat(runtime.proxier().plan().portals()).hasSize(2);

        for (InetSocketAddress target : List.of(new InetSocketAddress(NODE, nodePort), new InetSocketAddress(EMPTY_SERVICE_IP, 80))) {
            // Refused (a reset came back), not timed out: the client is told at once.
            NetworkCommands.Result refused = connectFromTheClient(target.getAddress(), target.getPort());
            assertThat(refused.exit()).as("%s from the client: %s", target, refused.err()).isEqualTo(1);
            assertThat(refused.err()).contains("Connection refused");
        }
        for (InetSocketAddress target : List.of(new InetSocketAddress(NODE, nodePort), Ports.loopback(nodePort),
                new InetSocketAddress(EMPTY_SERVICE_IP, 80), new InetSocketAddress(EMPTY_SERVICE_IP6, 80))) {
            assertThatThrownBy(() -> connectBriefly(target)).as("%s from the node", target)
                    .isInstanceOf(ConnectException.class).hasMessageContaining("refused");
        }
        // The IPv6 ClusterIP was refused by the rule, not by a missing listener: its counter moved.
        assertThat(packetsOf("ip6tables-save", "--ctorigdst " + Addresses.formatIp(EMPTY_SERVICE_IP6))).isPositive();
        assertThat(packetsOf("iptables-save", "--ctorigdst " + EMPTY_SERVICE_IP.getHostAddress())).isPositive();
        for (Route route : runtime.balancer().snapshot().routes()) {
            assertThat(handled(route)).as("connections the balancer saw on %s", route.port().name()).isZero();
        }

        runtime.close();
        for (String save : List.of("iptables-save", "ip6tables-save")) {
            assertThat(run(save)).doesNotContain("L4LB-NO-ENDPOINTS");
        }
    }

    /**
     * Under TPROXY portals a TCP ClusterIP arrives unNATed at the transparent listener: the rule
     * refuses it before that listener accepts. A UDP port of the same Service, behind its REDIRECT
     * portal, gets ICMP port unreachable, which a connected socket reports.
     */
    @Test
    void underTproxyPortalsTheClusterIpIsRefusedTooAndUdpGetsPortUnreachable() throws Exception {
        Assumptions.assumeTrue(TRANSPORT != Transport.NIO, "a transparent listener needs epoll or io_uring");
        AtomicReference<ClusterObjects> objects = new AtomicReference<>(KubeManifests.parse("empty.yaml", """
                apiVersion: v1
                kind: Service
                metadata: {name: empty, namespace: netns}
                spec:
                  clusterIP: "%s"
                  ports: [{name: http, port: 80}, {name: dns, port: 53, protocol: UDP}]
                """.formatted(EMPTY_SERVICE_IP.getHostAddress())));
        ProxierRuntime runtime = closer.add(startProxier(objects, ProxierRuntime.Portals.TPROXY));
        assertThat(runtime.proxier().plan().intercepted()).containsExactly(new InetSocketAddress(EMPTY_SERVICE_IP, 80));

        NetworkCommands.Result refused = connectFromTheClient(EMPTY_SERVICE_IP, 80);
        assertThat(refused.exit()).as("from the client: %s", refused.err()).isEqualTo(1);
        assertThat(refused.err()).contains("Connection refused");
        assertThatThrownBy(() -> connectBriefly(new InetSocketAddress(EMPTY_SERVICE_IP, 80))).as("from the node")
                .isInstanceOf(ConnectException.class).hasMessageContaining("refused");
        try (DatagramSocket client = new DatagramSocket()) {
            client.connect(new InetSocketAddress(EMPTY_SERVICE_IP, 53));
            client.setSoTimeout(3000);
            client.send(new DatagramPacket(new byte[] {1}, 1));
            assertThatThrownBy(() -> client.receive(new DatagramPacket(new byte[16], 16)))
                    .isInstanceOf(PortUnreachableException.class);
        }
        assertThat(runtime.balancer().tcp().unroutedConnections()).isZero();
        for (Route route : runtime.balancer().snapshot().routes()) {
            assertThat(handled(route)).as("connections the balancer saw on %s", route.port().name()).isZero();
        }
    }

    /** (d) What a run that did not close left is removed when the next one starts, and by lb kube --cleanup. */
    @Test
    void leftRulesGoWhenTheNextRunStartsAndOnCleanup() {
        NoEndpointPort refused = new NoEndpointPort("netns/left:http", Protocol.TCP, List.of(new InetSocketAddress(NODE, 30999)),
                List.of(new InetSocketAddress(EMPTY_SERVICE_IP6, 80)), NoEndpointPort.Refusal.REJECT, Optional.empty());
        NoEndpointRules crashed = NoEndpointRules.open();
        assertThat(crashed.sync(List.of(refused)).applied()).isTrue();
        assertThat(run("iptables-save")).contains("netns/left:http has no endpoints");
        assertThat(run("ip6tables-save")).contains("netns/left:http has no endpoints");

        NoEndpointRules next = NoEndpointRules.open(); // not closed either: a crash again
        assertThat(run("iptables-save") + run("ip6tables-save")).doesNotContain("L4LB-NO-ENDPOINTS");
        assertThat(next.sync(List.of(refused)).applied()).isTrue();
        assertThat(run("iptables-save")).containsOnlyOnce("-j L4LB-NO-ENDPOINTS");

        assertThat(PortalLeftovers.remove()).isEmpty();
        assertThat(run("iptables-save") + run("ip6tables-save")).doesNotContain("L4LB-NO-ENDPOINTS");
    }

    private ProxierRuntime startProxier(AtomicReference<ClusterObjects> objects) throws Exception {
        return startProxier(objects, ProxierRuntime.Portals.REDIRECT);
    }

    private ProxierRuntime startProxier(AtomicReference<ClusterObjects> objects, ProxierRuntime.Portals portals)
            throws Exception {
        boolean tproxy = portals == ProxierRuntime.Portals.TPROXY;
        NodeContext node = new NodeContext("node-a", Set.of(NODE, NODE6, ip("127.0.0.1")), List.of(), ip("0.0.0.0"), tproxy,
                List.of(Cidr.parse(POD.getHostAddress() + "/32").orElseThrow()));
        ProxierRuntime.Settings settings = KubeFixtures.settings(node, portals,
                List.of(Cidr.parse(SERVICE_RANGE).orElseThrow(), Cidr.parse(SERVICE_RANGE6).orElseThrow()),
                tproxy ? Ports.loopback(Ports.free()) : null);
        return ProxierRuntime.start(settings, KubeFixtures.admin(), TRANSPORT, 1, ConnectionLog.off(), onChange -> objects::get);
    }

    private static ClusterObjects localService(int nodePort, int podPort, String endpoints) throws Exception {
        return KubeManifests.parse("local.yaml", """
                apiVersion: v1
                kind: Service
                metadata: {name: local, namespace: netns}
                spec:
                  type: NodePort
                  clusterIP: "%s"
                  externalTrafficPolicy: Local
                  ports: [{name: http, port: 80, nodePort: %d}]
                ---
                apiVersion: discovery.k8s.io/v1
                kind: EndpointSlice
                metadata: {name: local-1, namespace: netns, labels: {kubernetes.io/service-name: local}}
                addressType: IPv4
                ports: [{name: http, port: %d, protocol: TCP}]
                endpoints:
                %s""".formatted(LOCAL_SERVICE_IP.getHostAddress(), nodePort, podPort, endpoints));
    }

    private static String endpoint(InetAddress pod, String node) {
        return "  - {addresses: [\"" + pod.getHostAddress() + "\"], nodeName: " + node + "}\n";
    }

    private static Route route(ProxierRuntime runtime, String portName) {
        return runtime.balancer().snapshot().routes().stream().filter(r -> r.port().name().equals(portName)).findFirst()
                .orElseThrow(() -> new AssertionError("no port " + portName));
    }

    /** Every connection the port counted, whatever its outcome. */
    private static long handled(Route route) {
        PortCounters counters = route.counters();
        return Arrays.stream(Outcome.values()).mapToLong(counters::count).sum() + counters.active();
    }

    private static long established(Route route, InetAddress pod) {
        return route.backends().stream().filter(b -> b.address().getAddress().equals(pod))
                .mapToLong(b -> b.counters().established()).sum();
    }

    /** The packet counter of the one rule whose text contains {@code match}, from {@code iptables-save -c}. */
    private static long packetsOf(String save, String match) {
        String saved = run(save, "-c", "-t", "filter");
        List<String> rules = saved.lines().filter(l -> l.contains(match)).toList();
        assertThat(rules).as(saved).hasSize(1);
        String counters = rules.get(0).substring(1, rules.get(0).indexOf(']'));
        return Long.parseLong(counters.split(":")[0]);
    }

    /** Connects from the external client, sends {@code text} and returns what it reads back. */
    private static String fromTheClient(InetAddress address, int port, String text) {
        return run("ip", "netns", "exec", NS, "timeout", "5", "bash", "-c", "exec 3<>/dev/tcp/" + address.getHostAddress()
                + "/" + port + " && printf %s '" + text + "' >&3 && head -c " + text.length() + " <&3");
    }

    /** The same from the pod's address, which bash cannot bind: socat. */
    private static String fromThePod(InetAddress address, int port, String text) {
        return run("ip", "netns", "exec", NS, "timeout", "5", "bash", "-c", "printf %s '" + text + "' | socat -t 3 - TCP:"
                + address.getHostAddress() + ":" + port + ",bind=" + POD.getHostAddress());
    }

    /** The exit code of a connect from the external client that may take 2 s (124: it timed out). */
    private static int exitFromTheClient(InetAddress address, int port) {
        return exec(List.of("ip", "netns", "exec", NS, "timeout", "2", "bash", "-c",
                "exec 3<>/dev/tcp/" + address.getHostAddress() + "/" + port)).exit();
    }

    private static NetworkCommands.Result connectFromTheClient(InetAddress address, int port) {
        return exec(List.of("ip", "netns", "exec", NS, "timeout", "2", "bash", "-c",
                "exec 3<>/dev/tcp/" + address.getHostAddress() + "/" + port));
    }

    private static void connectBriefly(InetSocketAddress address) throws Exception {
        try (Socket socket = new Socket()) {
            socket.connect(address, 1500);
        }
    }

    private static String run(String... command) {
        NetworkCommands.Result result = exec(List.of(command));
        if (!result.ok()) {
            throw new AssertionError(String.join(" ", command) + " failed (exit " + result.exit() + "): " + result.message());
        }
        return result.out();
    }

    private static void runQuietly(String... command) {
        exec(List.of(command));
    }

    /** Runs a tool found where the portals find theirs (sbin may not be on this JVM's PATH). */
    private static NetworkCommands.Result exec(List<String> command) {
        NetworkCommands system = NetworkCommands.system();
        List<String> resolved = new ArrayList<>(command);
        system.find(command.get(0)).ifPresent(path -> resolved.set(0, path.toString()));
        return system.run(resolved);
    }

    private static InetAddress ip(String text) {
        return Addresses.parseIp(text).orElseThrow();
    }
}

package dev.l4lb.netty.kube.portal;

import static dev.l4lb.netty.testing.Sockets.assertEchoes;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.time.Duration;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollChannelOption;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.RegisterExtension;

import dev.l4lb.core.config.BalancerConfig;
import dev.l4lb.core.kube.ClusterObjects;
import dev.l4lb.core.kube.KubeManifests;
import dev.l4lb.core.kube.NodeContext;
import dev.l4lb.core.kube.Portal;
import dev.l4lb.core.model.Addresses;
import dev.l4lb.core.model.Cidr;
import dev.l4lb.core.model.Protocol;
import dev.l4lb.netty.Balancer;
import dev.l4lb.netty.transport.Transport;
import dev.l4lb.netty.echo.EchoServer;
import dev.l4lb.netty.kube.KubeFixtures;
import dev.l4lb.netty.kube.ProxierRuntime;
import dev.l4lb.netty.log.ConnectionLog;
import dev.l4lb.netty.testing.Closer;
import dev.l4lb.netty.testing.Configs;
import dev.l4lb.netty.testing.EchoBackends;
import dev.l4lb.netty.testing.HostCommands;
import dev.l4lb.netty.testing.NoLeaks;
import dev.l4lb.netty.testing.Ports;
import dev.l4lb.netty.testing.Sockets;

/**
 * The portals on a real kernel: a client in its own network namespace (a "pod" behind a veth
 * pair) and this test's own process (the node, in the root namespace) reach a ClusterIP that
 * exists nowhere but in the rules. Root only; everything it adds is removed after each test, and
 * the namespace after the class, also when a test fails.
 */
@ExtendWith(NoLeaks.class)
class PortalsNetnsTest {
    private static final Transport TRANSPORT = Transport.select("auto");
    private static final long PID = ProcessHandle.current().pid();
    private static final String NS = "l4lb-t-" + PID;
    /** Interface names are at most 15 characters; a pid has at most 7 digits. */
    private static final String NODE_IF = "l4t" + PID + "n";
    private static final String POD_IF = "l4t" + PID + "p";
    /** A private /30 per run: 10.213.<100..199>.1 the node, .2 the pod. */
    private static final int OCTET = 100 + (int) (PID % 100);
    private static final InetAddress NODE = ip("10.213." + OCTET + ".1");
    private static final InetAddress POD = ip("10.213." + OCTET + ".2");
    /** The same link in IPv6: fd00:213:<octet>::1 the node, ::2 the pod. */
    private static final InetAddress NODE6 = ip("fd00:213:" + OCTET + "::1");
    private static final InetAddress POD6 = ip("fd00:213:" + OCTET + "::2");
    private static final String SERVICE_RANGE6 = "fd00:96:213::/112";
    private static final InetAddress TPROXY_IP6 = ip("fd00:96:213::8");
    /** Inside 10.96.0.0/12, as ClusterIPs are, and in a /24 that nothing on this machine uses. */
    private static final String SERVICE_RANGE = "10.96.213.0/24";
    private static final InetAddress CLUSTER_IP = ip("10.96.213.7");
    private static final InetAddress TPROXY_IP = ip("10.96.213.8");
    /** The ClusterIP of the Service the whole proxier serves. */
    private static final InetAddress PROXIED_IP = ip("10.96.213.20");
    /** A rule of someone else's in the built-in chain, which the portals must leave alone. */
    private static final List<String> FOREIGN_RULE = List.of("PREROUTING", "-d", "10.96.213.99/32",
            "-m", "comment", "--comment", "l4lb-test-foreign", "-j", "RETURN");

    /** Registered first, so that it runs after the Closer has closed the test's portals: the net under them. */
    @RegisterExtension
    @Order(1)
    final AfterEachCallback noRuleLeft = context -> removeEveryRule();

    @RegisterExtension
    @Order(2)
    final Closer closer = new Closer();

    @BeforeAll
    static void createThePod() {
        HostCommands.requireRootAnd("it creates a network namespace and iptables rules",
                "ip", "iptables", "iptables-restore", "iptables-save");
        removeThePod();
        run("ip", "netns", "add", NS);
        run("ip", "link", "add", NODE_IF, "type", "veth", "peer", "name", POD_IF);
        run("ip", "link", "set", POD_IF, "netns", NS);
        run("ip", "addr", "add", NODE.getHostAddress() + "/30", "dev", NODE_IF);
        run("ip", "link", "set", NODE_IF, "up");
        run("ip", "netns", "exec", NS, "ip", "addr", "add", POD.getHostAddress() + "/30", "dev", POD_IF);
        run("ip", "netns", "exec", NS, "ip", "link", "set", POD_IF, "up");
        run("ip", "netns", "exec", NS, "ip", "link", "set", "lo", "up");
        // The pod reaches ClusterIPs through the node, as a pod's default route would take them.
        run("ip", "netns", "exec", NS, "ip", "route", "add", "10.96.0.0/12", "via", NODE.getHostAddress());
        // The node's own packets to the test range go to the pod too, not out of eth0: without
        // portals they go unanswered there (the pod does not forward) instead of leaving the machine.
        run("ip", "route", "add", SERVICE_RANGE, "via", POD.getHostAddress(), "dev", NODE_IF);
        // And in IPv6 (no duplicate address detection: the addresses are usable at once).
        run("ip", "addr", "add", NODE6.getHostAddress() + "/64", "dev", NODE_IF, "nodad");
        run("ip", "netns", "exec", NS, "ip", "addr", "add", POD6.getHostAddress() + "/64", "dev", POD_IF, "nodad");
        run("ip", "netns", "exec", NS, "ip", "-6", "route", "add", SERVICE_RANGE6, "via", NODE6.getHostAddress());
        run("ip", "-6", "route", "add", SERVICE_RANGE6, "via", POD6.getHostAddress(), "dev", NODE_IF);
    }

    @AfterAll
    static void removeThePod() {
        runQuietly("ip", "netns", "del", NS);
        runQuietly("ip", "link", "del", NODE_IF); // gone with the namespace, unless that was never made
    }

    private static void removeEveryRule() {
        IptablesPortals.removeLeftovers();
        TproxyPortals.removeLeftovers();
        NoEndpointRules.removeLeftovers(NetworkCommands.system()); // the proxier's portals write them too
        ReplyPath.removeLeftovers(); // and the reply path
        List<String> delete = new ArrayList<>(List.of("iptables", "-t", "nat", "-D"));
        delete.addAll(FOREIGN_RULE);
        runQuietly(delete.toArray(String[]::new));
        assertThat(run("iptables-save")).doesNotContain("KUBE-PORTALS", "L4LB-TPROXY", "L4LB-NO-ENDPOINTS", "L4LB-REPLIES",
                "l4lb-test-foreign");
        assertThat(run("ip6tables-save")).doesNotContain("KUBE-PORTALS", "L4LB-TPROXY", "L4LB-NO-ENDPOINTS", "L4LB-REPLIES");
        assertThat(run("ip", "rule")).doesNotContain("lookup 19508", "lookup 19509");
        assertThat(run("ip", "-6", "rule")).doesNotContain("lookup 19508", "lookup 19509");
    }

    @Test
    void redirectPortalsCarryPodAndNodeTrafficToTheProxyListenerUntilClosed() throws Exception {
        int proxyPort = startBalancer();
        List<String> insert = new ArrayList<>(List.of("iptables", "-t", "nat", "-A"));
        insert.addAll(FOREIGN_RULE);
        run(insert.toArray(String[]::new));

        IptablesPortals portals = closer.add(IptablesPortals.open(ip("0.0.0.0")));
        assertThat(portals.enabled()).isTrue();
        PortalSync sync = portals.sync(List.of(new Portal("test/svc:p", Protocol.TCP, CLUSTER_IP, 80, proxyPort)));

        assertThat(sync.outcome()).isEqualTo(PortalSync.Outcome.APPLIED);
        assertThat(sync.rules()).isEqualTo(2);
        assertThat(natRules()).contains(
                "-A PREROUTING -m comment --comment \"l4lb portals: handle ClusterIPs\" -j KUBE-PORTALS-CONTAINER",
                "-A OUTPUT -m comment --comment \"l4lb portals: handle ClusterIPs\" -j KUBE-PORTALS-HOST",
                "-A KUBE-PORTALS-CONTAINER -d 10.96.213.7/32 -p tcp -m comment --comment \"test/svc:p\" -m tcp --dport 80"
                        + " -j REDIRECT --to-ports " + proxyPort,
                "-A KUBE-PORTALS-HOST -d 10.96.213.7/32 -p tcp -m comment --comment \"test/svc:p\" -m tcp --dport 80"
                        + " -j REDIRECT --to-ports " + proxyPort);
        // The jumps went in before everything else in their chains, the foreign rule included.
        assertThat(natRules()).filteredOn(r -> r.startsWith("-A PREROUTING")).first().asString()
                .endsWith("-j KUBE-PORTALS-CONTAINER");

        assertThat(fromThePod(CLUSTER_IP, 80, "from-the-pod")).isEqualTo("from-the-pod");
        try (Socket client = Sockets.connect(new InetSocketAddress(CLUSTER_IP, 80))) {
            assertEchoes(client, "from-the-node");
        }

        // Syncing again replaces the rules and never adds a second jump.
        assertThat(portals.sync(List.of(new Portal("test/svc:p", Protocol.TCP, CLUSTER_IP, 8080, proxyPort))).applied()).isTrue();
        assertThat(natRules()).filteredOn(r -> r.endsWith("-j KUBE-PORTALS-CONTAINER")).hasSize(1);
        assertThat(natRules()).filteredOn(r -> r.endsWith("-j KUBE-PORTALS-HOST")).hasSize(1);
        assertThat(natRules()).noneMatch(r -> r.contains("--dport 80 "));
        assertThat(fromThePod(CLUSTER_IP, 8080, "moved")).isEqualTo("moved");

        portals.close();

        assertThat(run("iptables-save", "-t", "nat")).doesNotContain("KUBE-PORTALS").contains("l4lb-test-foreign");
        assertThat(portals.sync(List.of()).outcome()).isEqualTo(PortalSync.Outcome.OFF);
        assertThat(exitFromThePod(CLUSTER_IP, 8080)).isNotZero();
        assertThatThrownBy(() -> connectBriefly(new InetSocketAddress(CLUSTER_IP, 8080))).isInstanceOf(IOException.class);
    }

    @Test
    void givenTheNodeAddressTheNodesOwnTrafficIsDnatedThereSoUdpRepliesComeFromTheClusterIp() throws Exception {
        // l4lb refuses a UDP listener on a wildcard address, so this one is on the node's address,
        // which the pod's REDIRECT (to the receiving interface's address) and the node's DNAT both reach.
        EchoServer udpBackend = closer.add(EchoBackends.startUdp(TRANSPORT, 1));
        EchoServer tcpBackend = closer.add(EchoBackends.start(TRANSPORT, 1));
        int tcpPort = Ports.free();
        int udpPort = Ports.freeUdp().getPort();
        BalancerConfig config = Configs.parse("""
                services:
                  - name: test/dns
                    ports:
                      - name: tcp
                        listen: ["0.0.0.0:%d"]
                        endpoints: ["%s"]
                      - name: udp
                        protocol: UDP
                        listen: ["%s:%d"]
                        endpoints: ["%s"]
                """.formatted(tcpPort, Addresses.format(tcpBackend.addresses().get(0)),
                NODE.getHostAddress(), udpPort, Addresses.format(udpBackend.addresses().get(0))));
        closer.add(Balancer.start(config, TRANSPORT, 1));

        IptablesPortals portals = closer.add(IptablesPortals.open(ip("0.0.0.0"), NODE));
        assertThat(portals.sync(List.of(
                new Portal("test/dns:tcp", Protocol.TCP, CLUSTER_IP, 53, tcpPort),
                new Portal("test/dns:udp", Protocol.UDP, CLUSTER_IP, 53, udpPort))).applied()).isTrue();

        assertThat(natRules()).contains("-A KUBE-PORTALS-HOST -d 10.96.213.7/32 -p udp -m comment --comment \"test/dns:udp\""
                + " -m udp --dport 53 -j DNAT --to-destination " + NODE.getHostAddress() + ":" + udpPort);
        try (DatagramSocket client = new DatagramSocket()) {
            // Connected: the kernel hands it only datagrams from 10.96.213.7:53, so the echo
            // arrives only if its NAT entry matched the reply.
            client.connect(new InetSocketAddress(CLUSTER_IP, 53));
            client.setSoTimeout(5000);
            byte[] ping = "ping".getBytes(StandardCharsets.US_ASCII);
            client.send(new DatagramPacket(ping, ping.length));
            DatagramPacket reply = new DatagramPacket(new byte[16], 16);
            client.receive(reply);
            assertThat(new String(reply.getData(), 0, reply.getLength(), StandardCharsets.US_ASCII)).isEqualTo("ping");
        }
        try (Socket client = Sockets.connect(new InetSocketAddress(CLUSTER_IP, 53))) {
            assertEchoes(client, "tcp-from-the-node");
        }
        assertThat(fromThePod(CLUSTER_IP, 53, "tcp-from-the-pod")).isEqualTo("tcp-from-the-pod");
        // bash's /dev/udp connects its socket too: the pod's REDIRECTed datagrams are answered from the ClusterIP.
        assertThat(run("ip", "netns", "exec", NS, "timeout", "5", "bash", "-c",
                "exec 3<>/dev/udp/" + CLUSTER_IP.getHostAddress() + "/53 && printf pong >&3 && head -c 4 <&3")).isEqualTo("pong");
    }

    @Test
    void aRejectedTransactionChangesNothingAndSaysWhatIptablesSaid() {
        IptablesPortals portals = closer.add(IptablesPortals.open(ip("0.0.0.0")));
        assertThat(portals.sync(List.of(new Portal("test/svc:p", Protocol.TCP, CLUSTER_IP, 80, 40999))).applied()).isTrue();
        List<String> before = natRules();
        NetworkCommands system = NetworkCommands.system();
        OwnedChains.Tools tools = OwnedChains.find(IpFamily.IPV4, IptablesPortals.TABLE, system);
        OwnedChains chains = new OwnedChains(IpFamily.IPV4, IptablesPortals.TABLE, IptablesPortals.JUMPS,
                tools.iptables(), tools.restore(), system);

        // A good rule, then one iptables refuses: all or nothing.
        String good = "-A KUBE-PORTALS-CONTAINER -p tcp -d 10.96.213.10/32 -j RETURN";
        String bad = "-A KUBE-PORTALS-CONTAINER -p tcp -d 10.96.213.11/32 -j REDIRECT --to-ports not-a-port";
        Optional<String> error = chains.write(List.of(good, bad));

        assertThat(error).hasValueSatisfying(why -> assertThat(why)
                .startsWith("IPv4 nat: iptables-restore failed (exit ")
                .endsWith("[line 5: " + bad + "]"));
        assertThat(natRules()).isEqualTo(before);
        // Refused at COMMIT by the nft backend, or at the line by the legacy one: the message names the chain either way.
        assertThat(chains.write(List.of("-A KUBE-PORTALS-CONTAINER -j L4LB-NO-SUCH-CHAIN")))
                .hasValueSatisfying(why -> assertThat(why).contains("L4LB-NO-SUCH-CHAIN"));
        assertThat(natRules()).isEqualTo(before);
    }

    @Test
    void openRemovesTheChainsAndJumpsACrashedRunLeftBehind() {
        // As a run killed with -9 leaves them, and with a comment of another version.
        run("iptables", "-t", "nat", "-N", "KUBE-PORTALS-CONTAINER");
        run("iptables", "-t", "nat", "-A", "KUBE-PORTALS-CONTAINER", "-p", "tcp", "-d", "10.96.213.9/32",
                "-j", "REDIRECT", "--to-ports", "1");
        run("iptables", "-t", "nat", "-I", "PREROUTING", "-m", "comment", "--comment", "an older l4lb", "-j", "KUBE-PORTALS-CONTAINER");
        run("iptables", "-t", "nat", "-N", "KUBE-PORTALS-HOST");
        run("iptables", "-t", "nat", "-I", "OUTPUT", "-j", "KUBE-PORTALS-HOST");
        run("iptables", "-t", "nat", "-I", "OUTPUT", "-j", "KUBE-PORTALS-HOST"); // and twice
        List<String> insert = new ArrayList<>(List.of("iptables", "-t", "nat", "-A"));
        insert.addAll(FOREIGN_RULE);
        run(insert.toArray(String[]::new));

        IptablesPortals portals = closer.add(IptablesPortals.open(ip("0.0.0.0")));

        assertThat(portals.enabled()).isTrue();
        assertThat(run("iptables-save", "-t", "nat")).doesNotContain("KUBE-PORTALS").contains("l4lb-test-foreign");
    }

    @Test
    void tproxyDeliversClusterIpConnectionsWithTheirOriginalDestination() throws Exception {
        Assumptions.assumeTrue(Epoll.isAvailable(), "a transparent listener needs epoll here");
        BlockingQueue<InetSocketAddress> accepted = new LinkedBlockingQueue<>();
        InetSocketAddress listener = transparentListener(accepted);

        TproxyPortals portals = closer.add(TproxyPortals.open(List.of(Cidr.parse(SERVICE_RANGE).orElseThrow()),
                List.of(new InetSocketAddress(NODE, 8443)), listener));

        assertThat(portals.enabled()).as("TPROXY portals: %s", portals.offReason()).isTrue();
        String mangle = run("iptables-save", "-t", "mangle");
        assertThat(mangle).contains("-A L4LB-TPROXY -d 10.96.213.0/24 -p tcp -j TPROXY --on-port " + listener.getPort()
                + " --on-ip 127.0.0.1 --tproxy-mark 0x2000/0x2000");
        assertThat(run("ip", "-4", "rule")).contains("19508:\tfrom all fwmark 0x2000/0x2000 lookup 19508");
        assertThat(run("ip", "-4", "route", "show", "table", "19508")).contains("local default dev lo");

        // From the pod: routed to the node, diverted in PREROUTING.
        assertThat(fromThePod(TPROXY_IP, 80, "")).isEqualTo("10.96.213.8:80");
        assertThat(accepted.poll(5, TimeUnit.SECONDS)).isEqualTo(new InetSocketAddress(TPROXY_IP, 80));
        // From the node: marked in OUTPUT, rerouted through lo, diverted in PREROUTING.
        try (Socket client = Sockets.connect(new InetSocketAddress(TPROXY_IP, 443))) {
            assertThat(new String(client.getInputStream().readAllBytes(), StandardCharsets.US_ASCII)).isEqualTo("10.96.213.8:443");
        }
        assertThat(accepted.poll(5, TimeUnit.SECONDS)).isEqualTo(new InetSocketAddress(TPROXY_IP, 443));
        // An extra address (a local externalIP) is diverted on its port only.
        assertThat(fromThePod(NODE, 8443, "")).isEqualTo(NODE.getHostAddress() + ":8443");
        assertThat(exitFromThePod(NODE, 8444)).isNotZero();

        assertThat(portals.sync(List.of()).applied()).isTrue();
        assertThat(exitFromThePod(NODE, 8443)).isNotZero();
        assertThat(run("iptables-save", "-t", "mangle")).doesNotContain("--dport 8443").contains("-d 10.96.213.0/24");

        portals.close();

        assertThat(run("iptables-save", "-t", "mangle")).doesNotContain("L4LB-TPROXY");
        assertThat(run("ip", "-4", "rule")).doesNotContain("19508");
        assertThat(runQuietly("ip", "-4", "route", "show", "table", "19508")).doesNotContain("local");
        assertThat(exitFromThePod(TPROXY_IP, 80)).isNotZero();
    }

    @Test
    void tproxyOpenRemovesALeftoverChainRuleAndRoute() throws Exception {
        Assumptions.assumeTrue(Epoll.isAvailable(), "a transparent listener needs epoll here");
        run("iptables", "-t", "mangle", "-N", "L4LB-TPROXY");
        run("iptables", "-t", "mangle", "-I", "PREROUTING", "-j", "L4LB-TPROXY");
        run("ip", "-4", "rule", "add", "priority", "19508", "fwmark", "0x2000/0x2000", "lookup", "19508");
        run("ip", "-4", "route", "add", "local", "0.0.0.0/0", "dev", "lo", "table", "19508");
        InetSocketAddress listener = transparentListener(new LinkedBlockingQueue<>());

        TproxyPortals portals = closer.add(TproxyPortals.open(List.of(Cidr.parse(SERVICE_RANGE).orElseThrow()), List.of(), listener));

        assertThat(portals.enabled()).isTrue();
        assertThat(run("ip", "-4", "rule")).containsOnlyOnce("lookup 19508");
        assertThat(run("iptables-save", "-t", "mangle")).containsOnlyOnce("-j L4LB-TPROXY\n");
        assertThat(fromThePod(TPROXY_IP, 80, "")).isEqualTo("10.96.213.8:80");
    }

    /**
     * A transparent listener that cannot be bound (here: its address is taken) turns TPROXY off,
     * not the proxier: TCP ClusterIP ports get proxy listeners and REDIRECT portals instead, and
     * a crashed TPROXY run's rules are removed all the same.
     */
    @Test
    void theProxierFallsBackToRedirectPortalsWhenTheTransparentListenerCannotBeBound() throws Exception {
        Assumptions.assumeTrue(TRANSPORT != Transport.NIO, "a transparent listener needs epoll or io_uring");
        leaveTproxyLeftovers(); // of a crashed run: they would drop the ClusterIP's packets
        EchoServer backend = closer.add(EchoBackends.start(TRANSPORT, 1));
        try (java.net.ServerSocket squatter = new java.net.ServerSocket(0, 1, ip("127.0.0.1"))) {
            InetSocketAddress taken = (InetSocketAddress) squatter.getLocalSocketAddress();
            ProxierRuntime runtime = closer.add(startProxier(ProxierRuntime.Portals.TPROXY, backend.addresses().get(0), taken));

            var port = runtime.balancer().snapshot().routes().get(0).port();
            assertThat(port.intercepted()).isEmpty();
            assertThat(port.listen()).hasSize(1);
            assertThat(runtime.proxier().plan().portals()).extracting(Portal::address).containsExactly(PROXIED_IP);
            assertThat(run("iptables-save", "-t", "mangle")).doesNotContain("L4LB-TPROXY");
            assertThat(fromThePod(PROXIED_IP, 80, "fallback")).isEqualTo("fallback");
        }
    }

    /**
     * A transparent listener that was bound but whose TPROXY rules cannot be written (here: an
     * IPv6 listener for IPv4 service CIDRs) is closed again before the proxier is built on it, and
     * TCP falls back to proxy listeners and REDIRECT portals as above.
     */
    @Test
    void theProxierClosesTheTransparentListenerWhenTheTproxyRulesCannotBeWritten() throws Exception {
        Assumptions.assumeTrue(TRANSPORT != Transport.NIO, "a transparent listener needs epoll or io_uring");
        EchoServer backend = closer.add(EchoBackends.start(TRANSPORT, 1));
        InetSocketAddress transparent = new InetSocketAddress(ip("::1"), Ports.free());
        ProxierRuntime runtime = closer.add(startProxier(ProxierRuntime.Portals.TPROXY, backend.addresses().get(0), transparent));

        var port = runtime.balancer().snapshot().routes().get(0).port();
        assertThat(port.intercepted()).isEmpty();
        assertThat(port.listen()).hasSize(1);
        assertThat(runtime.proxier().plan().portals()).extracting(Portal::address).containsExactly(PROXIED_IP);
        assertThat(run("iptables-save", "-t", "mangle")).doesNotContain("L4LB-TPROXY");
        assertThatThrownBy(() -> new Socket(transparent.getAddress(), transparent.getPort()).close())
                .as("the transparent listener is closed").isInstanceOf(java.net.ConnectException.class);
        assertThat(fromThePod(PROXIED_IP, 80, "fallback")).isEqualTo("fallback");
    }

    /** {@code lb kube --cleanup} removes both modes' leftovers, and nothing of anyone else's. */
    @Test
    void lbKubeCleanupRemovesWhatEitherModeLeftAndNothingElse() {
        leaveTproxyLeftovers();
        run("iptables", "-t", "nat", "-N", "KUBE-PORTALS-CONTAINER");
        run("iptables", "-t", "nat", "-I", "PREROUTING", "-j", "KUBE-PORTALS-CONTAINER");
        List<String> insert = new ArrayList<>(List.of("iptables", "-t", "nat", "-A"));
        insert.addAll(FOREIGN_RULE);
        run(insert.toArray(String[]::new));

        assertThat(dev.l4lb.netty.cli.Main.commandLine().execute("kube", "--cleanup")).isZero();

        assertThat(run("iptables-save")).doesNotContain("KUBE-PORTALS", "L4LB-TPROXY").contains("l4lb-test-foreign");
        assertThat(run("ip", "-4", "rule")).doesNotContain("19508");
        assertThat(run("ip", "-4", "route", "show", "table", "all")).doesNotContain("table 19508");
    }

    private static void leaveTproxyLeftovers() {
        run("iptables", "-t", "mangle", "-N", "L4LB-TPROXY");
        run("iptables", "-t", "mangle", "-A", "L4LB-TPROXY", "-d", SERVICE_RANGE, "-p", "tcp", "-j", "TPROXY",
                "--on-port", "1", "--tproxy-mark", "0x2000/0x2000");
        run("iptables", "-t", "mangle", "-I", "PREROUTING", "-j", "L4LB-TPROXY");
        run("ip", "-4", "rule", "add", "priority", "19508", "fwmark", "0x2000/0x2000", "lookup", "19508");
        run("ip", "-4", "route", "add", "local", "0.0.0.0/0", "dev", "lo", "table", "19508");
    }

    /**
     * At shutdown under TPROXY portals, a connection open before drains, and a new one is reset
     * at once rather than left to time out: the rules stay for the drain, and so does the
     * transparent listener, refusing.
     */
    @Test
    void atShutdownUnderTproxyPortalsNewConnectionsAreRefusedWhileOpenOnesDrain() throws Exception {
        Assumptions.assumeTrue(TRANSPORT != Transport.NIO, "a transparent listener needs epoll or io_uring");
        EchoServer backend = closer.add(EchoBackends.start(TRANSPORT, 1));
        ProxierRuntime runtime = closer.add(startProxier(ProxierRuntime.Portals.TPROXY, backend.addresses().get(0),
                Ports.loopback(Ports.free())));
        InetSocketAddress clusterIp = new InetSocketAddress(PROXIED_IP, 80);
        Thread shutdown = new Thread(() -> runtime.shutdown(Duration.ofSeconds(30)), "shutdown");
        try (Socket held = Sockets.connect(clusterIp)) {
            assertEchoes(held, "before");
            shutdown.start();
            org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> {
                try (Socket fresh = new Socket()) {
                    fresh.connect(clusterIp, 2000);
                    fresh.setSoTimeout(2000);
                    fresh.getOutputStream().write('x');
                    return Sockets.readOrEnd(fresh) == -1; // reset by the draining balancer
                } catch (java.net.SocketException reset) {
                    return true;
                } catch (java.net.SocketTimeoutException dropped) {
                    return false; // as a closed transparent listener under its rules would leave it
                }
            });
            assertThat(shutdown.isAlive()).as("still draining").isTrue();
            assertEchoes(held, "during the drain");
        }
        shutdown.join(Duration.ofSeconds(20).toMillis());
        assertThat(shutdown.isAlive()).isFalse();
        assertThat(run("iptables-save", "-t", "mangle")).doesNotContain("L4LB-TPROXY");
    }

    /** An IPv6 ClusterIP through the whole proxier under TPROXY portals: routed by its original destination too. */
    @Test
    void theProxierWithTproxyPortalsServesAnIpv6ClusterIp() throws Exception {
        Assumptions.assumeTrue(TRANSPORT != Transport.NIO, "a transparent listener needs epoll or io_uring");
        EchoServer backend = closer.add(EchoBackends.start(TRANSPORT, 1));
        InetAddress clusterIp = ip("fd00:96:213::20");
        InetSocketAddress transparent = new InetSocketAddress(ip("::1"), Ports.free());
        ProxierRuntime runtime = closer.add(startProxier(ProxierRuntime.Portals.TPROXY, backend.addresses().get(0), transparent,
                clusterIp, SERVICE_RANGE6));

        assertThat(runtime.balancer().snapshot().routes().get(0).port().intercepted())
                .containsExactly(new InetSocketAddress(clusterIp, 80));
        for (int i = 0; i < 4; i++) {
            assertThat(fromThePod(clusterIp, 80, "via-tproxy6-" + i)).isEqualTo("via-tproxy6-" + i);
        }
        try (Socket client = Sockets.connect(new InetSocketAddress(clusterIp, 80))) {
            assertEchoes(client, "node-via-tproxy6");
        }
        runtime.close();
        assertThat(run("ip6tables-save", "-t", "mangle")).doesNotContain("L4LB-TPROXY");
    }

    /** The same in IPv6: ip6tables' TPROXY, an IPv6 ip rule and route, a listener on ::1. */
    @Test
    void tproxyDeliversIpv6ClusterIpConnectionsWithTheirOriginalDestination() throws Exception {
        Assumptions.assumeTrue(Epoll.isAvailable(), "a transparent listener needs epoll here");
        BlockingQueue<InetSocketAddress> accepted = new LinkedBlockingQueue<>();
        InetSocketAddress listener = transparentListener(accepted, new InetSocketAddress(ip("::1"), 0));

        TproxyPortals portals = closer.add(TproxyPortals.open(List.of(Cidr.parse(SERVICE_RANGE6).orElseThrow()), List.of(), listener));

        assertThat(portals.enabled()).as("TPROXY portals: %s", portals.offReason()).isTrue();
        assertThat(run("ip6tables-save", "-t", "mangle")).contains("-A L4LB-TPROXY -d fd00:96:213::/112 -p tcp -j TPROXY --on-port "
                + listener.getPort() + " --on-ip ::1 --tproxy-mark 0x2000/0x2000");
        assertThat(run("ip", "-6", "rule")).contains("19508:\tfrom all fwmark 0x2000/0x2000 lookup 19508");

        // From the pod: routed to the node, diverted in PREROUTING.
        assertThat(fromThePod(TPROXY_IP6, 80, "")).isEqualTo("[fd00:96:213::8]:80");
        assertThat(accepted.poll(5, TimeUnit.SECONDS)).isEqualTo(new InetSocketAddress(TPROXY_IP6, 80));
        // From the node: marked in OUTPUT, rerouted through lo, diverted in PREROUTING.
        try (Socket client = Sockets.connect(new InetSocketAddress(TPROXY_IP6, 443))) {
            assertThat(new String(client.getInputStream().readAllBytes(), StandardCharsets.US_ASCII)).isEqualTo("[fd00:96:213::8]:443");
        }
        assertThat(accepted.poll(5, TimeUnit.SECONDS)).isEqualTo(new InetSocketAddress(TPROXY_IP6, 443));

        portals.close();
        assertThat(run("ip6tables-save", "-t", "mangle")).doesNotContain("L4LB-TPROXY");
        assertThat(run("ip", "-6", "rule")).doesNotContain("19508");
    }

    @Test
    void tproxyPortalsThatCannotBeSetUpAreOffAndLeaveNothingBehind() {
        // An IPv6 listener for an IPv4 service CIDR: nothing could reach it, as nothing could
        // where the kernel has no TPROXY target; either way the portals are off, not half on.
        TproxyPortals portals = closer.add(TproxyPortals.open(List.of(Cidr.parse(SERVICE_RANGE).orElseThrow()), List.of(),
                Addresses.parseHostPort("[::1]:15001").orElseThrow()));

        assertThat(portals.enabled()).isFalse();
        assertThat(portals.offReason()).hasValue("IPv4: the transparent listener [::1]:15001 takes no IPv4 connections");
        assertThat(portals.sync(List.of()).outcome()).isEqualTo(PortalSync.Outcome.OFF);
        assertThat(run("iptables-save", "-t", "mangle")).doesNotContain("L4LB-TPROXY");
        assertThat(run("ip", "rule")).doesNotContain("19508");
    }

    /**
     * The whole proxier as {@code lb kube --iptables} runs it: a Service from the API's objects gets
     * a proxy listener and a portal; the pod and the node reach its ClusterIP; shutdown removes the rules.
     */
    @Test
    void theProxierWithRedirectPortalsServesAClusterIpToPodAndNode() throws Exception {
        // A TPROXY run that crashed left its mangle rule, which would take the ClusterIP's packets first.
        leaveTproxyLeftovers();
        EchoServer backend = closer.add(EchoBackends.start(TRANSPORT, 1));
        ProxierRuntime runtime = closer.add(startProxier(ProxierRuntime.Portals.REDIRECT, backend.addresses().get(0), null));

        assertThat(runtime.proxier().plan().portals()).extracting(Portal::address).containsExactly(PROXIED_IP);
        assertThat(fromThePod(PROXIED_IP, 80, "via-redirect")).isEqualTo("via-redirect");
        try (Socket client = Sockets.connect(new InetSocketAddress(PROXIED_IP, 80))) {
            assertEchoes(client, "node-via-redirect");
        }

        runtime.close();
        assertThat(run("iptables-save", "-t", "nat")).doesNotContain("KUBE-PORTALS");
        assertThat(exitFromThePod(PROXIED_IP, 80)).isNotZero();
    }

    /**
     * Under TPROXY portals the same Service has no listener of its own: the transparent listener
     * takes its connections and routes them by their original destination.
     */
    @Test
    void theProxierWithTproxyPortalsRoutesByOriginalDestination() throws Exception {
        Assumptions.assumeTrue(TRANSPORT != Transport.NIO, "a transparent listener needs epoll or io_uring");
        EchoServer backend = closer.add(EchoBackends.start(TRANSPORT, 1));
        InetSocketAddress transparent = Ports.loopback(Ports.free());
        ProxierRuntime runtime = closer.add(startProxier(ProxierRuntime.Portals.TPROXY, backend.addresses().get(0), transparent));

        var port = runtime.balancer().snapshot().routes().get(0).port();
        assertThat(port.listen()).isEmpty();
        assertThat(port.intercepted()).containsExactly(new InetSocketAddress(PROXIED_IP, 80));
        for (int i = 0; i < 6; i++) {
            assertThat(fromThePod(PROXIED_IP, 80, "via-tproxy-" + i)).isEqualTo("via-tproxy-" + i);
        }
        try (Socket client = Sockets.connect(new InetSocketAddress(PROXIED_IP, 80))) {
            assertEchoes(client, "node-via-tproxy");
        }
        // A port of the ClusterIP that no Service has is reset, and counted. The reset may come
        // before connect() returns (it is sent as soon as the balancer accepts): that is the same answer.
        try (Socket client = Sockets.connect(new InetSocketAddress(PROXIED_IP, 81))) {
            assertThat(Sockets.readOrEnd(client)).isEqualTo(-1);
        } catch (java.net.SocketException resetWhileConnecting) {
            assertThat(resetWhileConnecting).hasMessageContaining("reset");
        }
        assertThat(runtime.balancer().tcp().unroutedConnections()).isEqualTo(1);

        // Someone removes the policy routing: the next sync puts it back.
        run("ip", "-4", "rule", "del", "priority", "19508");
        runtime.proxier().syncNow();
        assertThat(run("ip", "-4", "rule")).contains("lookup 19508");
        assertThat(fromThePod(PROXIED_IP, 80, "repaired")).isEqualTo("repaired");

        runtime.close();
        assertThat(run("iptables-save", "-t", "mangle")).doesNotContain("L4LB-TPROXY");
        assertThat(run("ip", "-4", "rule")).doesNotContain("19508");
        assertThat(exitFromThePod(PROXIED_IP, 80)).isNotZero();
    }

    private static ProxierRuntime startProxier(ProxierRuntime.Portals mode, InetSocketAddress pod, InetSocketAddress transparent)
            throws Exception {
        return startProxier(mode, pod, transparent, PROXIED_IP, SERVICE_RANGE);
    }

    private static ProxierRuntime startProxier(ProxierRuntime.Portals mode, InetSocketAddress pod, InetSocketAddress transparent,
                                               InetAddress clusterIp, String serviceRange) throws Exception {
        ClusterObjects objects = KubeManifests.parse("netns.yaml", """
                apiVersion: v1
                kind: Service
                metadata: {name: web, namespace: netns}
                spec:
                  clusterIP: "%s"
                  ports: [{name: http, port: 80}]
                """.formatted(clusterIp.getHostAddress()) + KubeFixtures.onePodSlice("netns", "web", "http", "TCP", pod, "node-a"));
        boolean tproxy = mode == ProxierRuntime.Portals.TPROXY;
        NodeContext node = new NodeContext("node-a", Set.of(NODE, NODE6), List.of(), ip("0.0.0.0"), tproxy);
        ProxierRuntime.Settings settings = KubeFixtures.settings(node, mode, List.of(Cidr.parse(serviceRange).orElseThrow()),
                transparent);
        // Two event loops: the transparent listener is then two sockets sharing the port.
        return ProxierRuntime.start(settings, KubeFixtures.admin(), TRANSPORT, 2, ConnectionLog.off(), onChange -> () -> objects);
    }

    /** A balancer serving the echo backend on 0.0.0.0:&lt;port&gt;; returns the port. */
    private int startBalancer() throws Exception {
        EchoServer backend = closer.add(EchoBackends.start(TRANSPORT, 1));
        int proxyPort = Ports.free();
        BalancerConfig config = Configs.tcp(new InetSocketAddress(ip("0.0.0.0"), proxyPort), backend.addresses());
        closer.add(Balancer.start(config, TRANSPORT, 1));
        return proxyPort;
    }

    /**
     * A listener with IP_TRANSPARENT on 127.0.0.1 that writes each connection's local address
     * (the original destination, for a diverted one) and closes it.
     */
    private InetSocketAddress transparentListener(BlockingQueue<InetSocketAddress> accepted) throws InterruptedException {
        return transparentListener(accepted, Ports.loopback(0));
    }

    private InetSocketAddress transparentListener(BlockingQueue<InetSocketAddress> accepted, InetSocketAddress bind)
            throws InterruptedException {
        MultiThreadIoEventLoopGroup group = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
        closer.add(() -> group.shutdownGracefully(0, 0, TimeUnit.MILLISECONDS).syncUninterruptibly());
        Channel server = new ServerBootstrap()
                .group(group)
                .channel(EpollServerSocketChannel.class)
                .option(EpollChannelOption.IP_TRANSPARENT, true)
                .childHandler(new OriginalDestinationWriter(accepted))
                .bind(bind).sync().channel();
        closer.add(() -> server.close().syncUninterruptibly());
        return (InetSocketAddress) server.localAddress();
    }

    /** Writes a connection's local address, which for a diverted one is where the client sent it, and closes it. */
    @ChannelHandler.Sharable
    private static final class OriginalDestinationWriter extends ChannelInboundHandlerAdapter {
        private final BlockingQueue<InetSocketAddress> accepted;

        OriginalDestinationWriter(BlockingQueue<InetSocketAddress> accepted) {
            this.accepted = accepted;
        }

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            InetSocketAddress local = (InetSocketAddress) ctx.channel().localAddress();
            accepted.add(local);
            ctx.writeAndFlush(Unpooled.copiedBuffer(Addresses.format(local), StandardCharsets.US_ASCII))
                    .addListener(ChannelFutureListener.CLOSE);
        }
    }

    /** Connects from the pod, sends {@code text} and returns all it reads until the server closes or 3 s pass. */
    private static String fromThePod(InetAddress address, int port, String text) {
        String script = "exec 3<>/dev/tcp/" + address.getHostAddress() + "/" + port
                + (text.isEmpty() ? " && cat <&3" : " && printf %s '" + text + "' >&3 && head -c " + text.length() + " <&3");
        return run("ip", "netns", "exec", NS, "timeout", "5", "bash", "-c", script);
    }

    /** The exit code of a connection attempt from the pod (0: it connected). */
    private static int exitFromThePod(InetAddress address, int port) {
        return exec(List.of("ip", "netns", "exec", NS, "timeout", "2", "bash", "-c",
                "exec 3<>/dev/tcp/" + address.getHostAddress() + "/" + port)).exit();
    }

    private static List<String> natRules() {
        return List.of(run("iptables", "-t", "nat", "-S").split("\n"));
    }

    private static void connectBriefly(InetSocketAddress address) throws IOException {
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

    private static String runQuietly(String... command) {
        return exec(List.of(command)).out();
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

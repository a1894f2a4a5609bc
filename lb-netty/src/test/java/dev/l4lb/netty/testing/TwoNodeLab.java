package dev.l4lb.netty.testing;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;


import dev.l4lb.core.model.Addresses;

/**
 * A two-node cluster made of network namespaces, for the tests of what pods see as their
 * clients' addresses. This test process's own namespace is node A, where the balancer runs;
 * everything else is a namespace of the lab's, linked by veth pairs and routed like a cluster
 * whose pods' default route is their node:
 *
 * <pre>
 *   outside (10.216.o.2) --- node A (root ns: 10.216.o.1, 10.217.o.1, .5, .9, 10.216.o.5)
 *                              |-- pod A (10.217.o.2)  the local endpoint, via node A
 *                              |-- pod C (10.217.o.6)  a client pod, via node A
 *                              |-- pod D (10.217.o.10) via node A, but its replies to the outside are lost
 *                              |-- bridge (10.217.o.65/26) --- pods E (.66) and F (.67), as a bridge CNI's
 *                              `-- node B (10.216.o.6, forwards) --- pod B (10.217.o.130), via node B
 * </pre>
 *
 * and in IPv6 the outside (fd00:216:o::2), node A (fd00:216:o::1, fd00:217:o::1) and pod A
 * (fd00:217:o::2); with {@code o} from the test's pid, so that two runs do not collide. The pods' range (the
 * cluster CIDR) is 10.217.o.0/24, node B's share of it 10.217.o.128/25. Every pod but C and E,
 * and node B itself (an endpoint outside the pods' range, as the API server's is), runs socat on
 * {@link #POD_PORT}, answering each connection with the client address it sees and closing it.
 * Root only; {@link #close} removes the namespaces, the root's ends of the links and its route,
 * and stops the servers, also after a failed start.
 */
public final class TwoNodeLab implements AutoCloseable {
    /** Where each pod's server listens. */
    public static final int POD_PORT = 8080;
    private static final long PID = ProcessHandle.current().pid();
    private static final int OCTET = 100 + (int) (PID % 100);

    public final InetAddress outside = ip("10.216." + OCTET + ".2");
    /** Node A's address as the outside reaches it. */
    public final InetAddress nodeA = ip("10.216." + OCTET + ".1");
    public final InetAddress podA = ip("10.217." + OCTET + ".2");
    /** Node A's address on pod A's link: what pod A sees of a connection from the node. */
    public final InetAddress nodeAToPodA = ip("10.217." + OCTET + ".1");
    public final InetAddress podC = ip("10.217." + OCTET + ".6");
    public final InetAddress podD = ip("10.217." + OCTET + ".10");
    public final InetAddress nodeAToPodD = ip("10.217." + OCTET + ".9");
    /** Node A's address on node B's link: what pod B sees of a connection from node A. */
    public final InetAddress nodeAToNodeB = ip("10.216." + OCTET + ".5");
    public final InetAddress podB = ip("10.217." + OCTET + ".130");
    /** Node B's own address, on which an endpoint outside the pods' range answers. */
    public final InetAddress nodeB = ip("10.216." + OCTET + ".6");
    /** Two pods on one bridge of node A, and node A's address on it. */
    public final InetAddress podE = ip("10.217." + OCTET + ".66");
    public final InetAddress podF = ip("10.217." + OCTET + ".67");
    public final InetAddress nodeAOnBridge = ip("10.217." + OCTET + ".65");
    public final String clusterCidr = "10.217." + OCTET + ".0/24";
    /** The outside client, node A and pod A in IPv6 too (the other pods are IPv4 only). */
    public final InetAddress outside6 = ip("fd00:216:" + OCTET + "::2");
    public final InetAddress nodeA6 = ip("fd00:216:" + OCTET + "::1");
    public final InetAddress podA6 = ip("fd00:217:" + OCTET + "::2");
    public final String nodeA6Cidr = "fd00:216:" + OCTET + "::/64";
    /** A service range nothing else uses, inside 10.96.0.0/12 as ClusterIPs are. */
    public final String serviceCidr = "10.96.216.0/24";

    /** The namespaces by role: outside client, the pods, node B. */
    public final String outsideNs = name("x");
    public final String podANs = name("a");
    public final String podCNs = name("c");
    public final String podDNs = name("d");
    public final String nodeBNs = name("b");
    public final String podBNs = name("p");
    public final String podENs = name("e");
    public final String podFNs = name("f");

    private final List<Process> servers = new ArrayList<>();

    private TwoNodeLab() {
    }

    /** Builds the lab; skips the test where it cannot (not root, no ip or socat). */
    public static TwoNodeLab start() {
        HostCommands.requireRootAnd("it creates network namespaces", "ip", "socat", "iptables");
        TwoNodeLab lab = new TwoNodeLab();
        lab.removeLeftovers();
        try {
            lab.build();
            return lab;
        } catch (RuntimeException | Error e) {
            lab.close();
            throw e;
        }
    }

    private void build() {
        String o = "." + OCTET + ".";
        link(outsideNs, "x", "10.216" + o + "1/30", "10.216" + o + "2/30");
        link(podANs, "a", "10.217" + o + "1/30", "10.217" + o + "2/30");
        link(podCNs, "c", "10.217" + o + "5/30", "10.217" + o + "6/30");
        link(podDNs, "d", "10.217" + o + "9/30", "10.217" + o + "10/30");
        link(nodeBNs, "b", "10.216" + o + "5/30", "10.216" + o + "6/30");
        // IPv6 between the outside, node A and pod A (no duplicate address detection: usable at once).
        ipv6(outsideNs, "x", "fd00:216:" + OCTET + "::1", "fd00:216:" + OCTET + "::2");
        ipv6(podANs, "a", "fd00:217:" + OCTET + "::1", "fd00:217:" + OCTET + "::2");
        // Node B forwards between node A and its pod.
        inNs(nodeBNs, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1");
        HostCommands.run("ip", "netns", "add", podBNs);
        inNs(nodeBNs, "ip", "link", "add", "pod", "type", "veth", "peer", "name", "eth0", "netns", podBNs);
        inNs(nodeBNs, "ip", "addr", "add", "10.217" + o + "129/30", "dev", "pod");
        inNs(nodeBNs, "ip", "link", "set", "pod", "up");
        up(podBNs, "10.217" + o + "130/30", "10.217" + o + "129");
        // Node A reaches node B's pods through node B, as a cluster's pod routes do.
        HostCommands.run("ip", "route", "add", "10.217" + o + "128/25", "via", "10.216" + o + "6");
        // Pod D's replies to the outside go nowhere: it is not routed through node A for them.
        inNs(podDNs, "ip", "route", "add", "blackhole", "10.216" + o + "0/30");
        // A bridge with two pods, as flannel's cni0: they reach each other without node A's IP stack.
        String bridge = "l4c" + PID + "br";
        HostCommands.run("ip", "link", "add", bridge, "type", "bridge");
        HostCommands.run("ip", "addr", "add", "10.217" + o + "65/26", "dev", bridge);
        HostCommands.run("ip", "link", "set", bridge, "up");
        bridged(podENs, "e", "10.217" + o + "66/26", bridge, "10.217" + o + "65");
        bridged(podFNs, "f", "10.217" + o + "67/26", bridge, "10.217" + o + "65");
        for (String pod : List.of(podANs, podCNs, podDNs, podBNs, podFNs, nodeBNs)) {
            servers.add(podServer(pod, "TCP4-LISTEN:" + POD_PORT));
        }
        servers.add(podServer(podANs, "TCP6-LISTEN:" + POD_PORT + ",ipv6only=1"));
        for (InetAddress pod : List.of(podA, podC, podD, podB, podF, nodeB, podA6)) {
            awaitListening(new InetSocketAddress(pod, POD_PORT));
        }
    }

    /** A veth pair from the root namespace ({@code rootAddress}) into a new namespace ({@code podAddress}, its default route). */
    private void link(String ns, String suffix, String rootAddress, String podAddress) {
        HostCommands.run("ip", "netns", "add", ns);
        String rootEnd = "l4c" + PID + suffix;
        HostCommands.run("ip", "link", "add", rootEnd, "type", "veth", "peer", "name", "eth0", "netns", ns);
        HostCommands.run("ip", "addr", "add", rootAddress, "dev", rootEnd);
        HostCommands.run("ip", "link", "set", rootEnd, "up");
        up(ns, podAddress, rootAddress.substring(0, rootAddress.indexOf('/')));
    }

    /** A pod on {@code bridge}: a veth whose root end is the bridge's port. */
    private void bridged(String ns, String suffix, String address, String bridge, String gateway) {
        HostCommands.run("ip", "netns", "add", ns);
        String rootEnd = "l4c" + PID + suffix;
        HostCommands.run("ip", "link", "add", rootEnd, "type", "veth", "peer", "name", "eth0", "netns", ns);
        HostCommands.run("ip", "link", "set", rootEnd, "master", bridge);
        HostCommands.run("ip", "link", "set", rootEnd, "up");
        up(ns, address, gateway);
    }

    private static void up(String ns, String address, String gateway) {
        inNs(ns, "ip", "addr", "add", address, "dev", "eth0");
        inNs(ns, "ip", "link", "set", "eth0", "up");
        inNs(ns, "ip", "link", "set", "lo", "up");
        inNs(ns, "ip", "route", "add", "default", "via", gateway);
    }

    /** The IPv6 addresses of a link {@link #link} made, and the namespace's default route. */
    private void ipv6(String ns, String suffix, String rootAddress, String podAddress) {
        HostCommands.run("ip", "addr", "add", rootAddress + "/64", "dev", "l4c" + PID + suffix, "nodad");
        inNs(ns, "ip", "addr", "add", podAddress + "/64", "dev", "eth0", "nodad");
        inNs(ns, "ip", "-6", "route", "add", "default", "via", rootAddress);
    }

    /** socat answering each connection with the peer address it sees, one process per connection. */
    private static Process podServer(String ns, String listen) {
        try {
            return new ProcessBuilder(tool("ip"), "netns", "exec", ns, tool("socat"), listen + ",fork,reuseaddr",
                    "SYSTEM:echo $SOCAT_PEERADDR")
                    .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        } catch (IOException e) {
            throw new AssertionError("socat could not start in " + ns, e);
        }
    }

    private static void awaitListening(InetSocketAddress address) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (true) {
            try (Socket socket = new Socket()) {
                socket.connect(address, 1000);
                return;
            } catch (IOException e) {
                if (System.nanoTime() > deadline) {
                    throw new AssertionError("the pod server at " + Addresses.format(address) + " does not listen", e);
                }
                sleep(Duration.ofMillis(50));
            }
        }
    }

    /**
     * Connects from {@code ns} to {@code address}:{@code port} and returns the line the server
     * answers (the client address a pod saw); fails when no answer comes within 5 s.
     */
    public String ask(String ns, InetAddress address, int port) {
        String line = shell(ns, 8, "exec 3<>/dev/tcp/" + address.getHostAddress() + "/" + port + " && read -r line <&3 && echo \"$line\"");
        return line.strip().replace("[", "").replace("]", ""); // socat writes an IPv6 peer in brackets
    }

    /**
     * {@code connections} connections from {@code ns}, one after another, each reading the
     * answer's line; returns the answers counted as {@code uniq -c} gives them ("1000 10.1.2.3").
     */
    public String askMany(String ns, InetAddress address, int port, int connections) {
        String script = "for i in $(seq " + connections + "); do exec 3<>/dev/tcp/" + address.getHostAddress() + "/" + port
                + " || exit 1; read -r line <&3; echo \"$line\"; exec 3<&-; done | sort | uniq -c";
        return shell(ns, 120, script).strip().replaceAll("\\s+", " ");
    }

    private static String shell(String ns, int seconds, String script) {
        HostCommands.Ran result = exec(List.of(tool("ip"), "netns", "exec", ns, "timeout", String.valueOf(seconds), "bash", "-c", script),
                seconds + 5);
        if (result.exit() != 0) {
            throw new AssertionError("in " + ns + ": " + script + " failed (exit " + result.exit() + "): " + result.out());
        }
        return result.out();
    }

    private static void inNs(String ns, String... command) {
        List<String> all = new ArrayList<>(List.of("ip", "netns", "exec", ns));
        all.addAll(List.of(command));
        HostCommands.run(all.toArray(String[]::new));
    }

    /** Stops the servers and removes the namespaces, the root's link ends and route. */
    @Override
    public void close() {
        for (Process server : servers) {
            server.descendants().forEach(ProcessHandle::destroyForcibly);
            server.destroyForcibly();
        }
        removeLeftovers();
    }

    private void removeLeftovers() {
        // socat's children may outlive a killed parent: whatever still runs in the lab's namespaces goes first.
        for (String ns : List.of(outsideNs, podANs, podCNs, podDNs, nodeBNs, podBNs, podENs, podFNs)) {
            HostCommands.Ran pids = exec(List.of(tool("ip"), "netns", "pids", ns), 5);
            if (pids.exit() == 0) {
                pids.out().lines().filter(pid -> pid.strip().matches("\\d+"))
                        .forEach(pid -> ProcessHandle.of(Long.parseLong(pid.strip())).ifPresent(ProcessHandle::destroyForcibly));
            }
            exec(List.of(tool("ip"), "netns", "del", ns), 5);
        }
        for (String suffix : List.of("x", "a", "c", "d", "b", "e", "f", "br")) {
            exec(List.of(tool("ip"), "link", "del", "l4c" + PID + suffix), 5); // gone with its namespace, unless never made
        }
        exec(List.of(tool("ip"), "route", "del", "10.217." + OCTET + ".128/25"), 5);
    }

    private static String name(String role) {
        return "l4c-" + PID + "-" + role;
    }

    private static HostCommands.Ran exec(List<String> command, int seconds) {
        return HostCommands.exec(seconds, command);
    }

    private static String tool(String name) {
        return HostCommands.tool(name);
    }

    private static void sleep(Duration duration) {
        try {
            Thread.sleep(duration.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    private static InetAddress ip(String text) {
        return Addresses.parseIp(text).orElseThrow();
    }
}

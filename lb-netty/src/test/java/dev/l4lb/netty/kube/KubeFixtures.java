package dev.l4lb.netty.kube;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

import dev.l4lb.core.config.AdminConfig;
import dev.l4lb.core.kube.NodeContext;
import dev.l4lb.core.model.Addresses;
import dev.l4lb.core.model.Cidr;
import dev.l4lb.core.table.Route;
import dev.l4lb.netty.transport.BindFailure;
import dev.l4lb.netty.transport.Transport;
import dev.l4lb.netty.echo.EchoServer;
import dev.l4lb.netty.log.ConnectionLog;
import dev.l4lb.netty.testing.RawHttp;

/** A proxier on loopback as the kube tests run it: node ports and proxy listeners on 127.0.0.1, pods on other 127/8 addresses. */
public final class KubeFixtures {
    static final InetAddress LOOPBACK = InetAddress.getLoopbackAddress();
    /** What a connection the proxier dropped reads as. */
    static final String DROPPED = "dropped";
    /** What a connection to a port nothing listens on reads as. */
    static final String REFUSED = "refused";

    private KubeFixtures() {
    }

    /** A node named {@code nodeName} whose only address is 127.0.0.1 (node ports bind there). */
    static NodeContext node(String nodeName) {
        return new NodeContext(nodeName, Set.of(LOOPBACK), List.of(Cidr.parse("127.0.0.1/32").orElseThrow()), LOOPBACK, false);
    }

    static ProxierRuntime.Settings settings(NodeContext node, Duration minSyncPeriod) {
        return new ProxierRuntime.Settings(node, null, ProxierRuntime.Portals.OFF, List.of(), null, null, LOOPBACK,
                minSyncPeriod, Duration.ofSeconds(30), Duration.ofSeconds(60), false,
                dev.l4lb.core.model.HealthPolicy.NONE);
    }

    /**
     * The settings of a proxier that programs {@code portals} for {@code serviceCidrs} (TPROXY ones
     * deliver to {@code transparentListener}, else null), syncing at once on every change: the
     * root-only portal tests' proxier.
     */
    public static ProxierRuntime.Settings settings(NodeContext node, ProxierRuntime.Portals portals, List<Cidr> serviceCidrs,
                                                   InetSocketAddress transparentListener) {
        return new ProxierRuntime.Settings(node, null, portals, serviceCidrs, transparentListener, null, LOOPBACK,
                Duration.ZERO, Duration.ofSeconds(30), Duration.ofSeconds(60), false, dev.l4lb.core.model.HealthPolicy.NONE);
    }

    public static AdminConfig admin() {
        return new AdminConfig(new InetSocketAddress(LOOPBACK, 0), new InetSocketAddress(LOOPBACK, 0));
    }

    static ProxierRuntime start(NodeContext node, ClusterSource source) throws BindFailure {
        return ProxierRuntime.start(settings(node, Duration.ZERO), admin(), Transport.NIO, 1, ConnectionLog.off(), onChange -> source);
    }

    /** Echo pods on 127.0.0.{first}.. at one port, as an EndpointSlice lists pods: same port, one IP each. */
    static EchoServer pods(int port, int... lastOctets) throws BindFailure {
        List<InetSocketAddress> addresses = new ArrayList<>();
        for (int octet : lastOctets) {
            addresses.add(new InetSocketAddress(Addresses.parseIp("127.0.0." + octet).orElseThrow(), port));
        }
        return EchoServer.start(addresses, Transport.NIO, 1);
    }

    /**
     * The EndpointSlice document of a Service with one pod at {@code pod} (on {@code node}; empty
     * for none), its port named {@code portName}: what most proxier tests put beside their Service.
     */
    public static String onePodSlice(String namespace, String service, String portName, String protocol, InetSocketAddress pod,
                              String node) {
        return """
                ---
                apiVersion: discovery.k8s.io/v1
                kind: EndpointSlice
                metadata: {name: %s-1, namespace: %s, labels: {kubernetes.io/service-name: %s}}
                addressType: IPv4
                ports: [{name: %s, port: %d, protocol: %s}]
                endpoints: [{addresses: ["%s"]%s}]
                """.formatted(service, namespace, service, portName, pod.getPort(), protocol,
                pod.getAddress().getHostAddress(), node.isEmpty() ? "" : ", nodeName: " + node);
    }

    /** The listener of balancer port {@code portName} of service {@code namespace/name}: its first listen address. */
    static InetSocketAddress listener(ProxierRuntime runtime, String qualifiedName, String portName) {
        for (Route route : runtime.balancer().snapshot().routes()) {
            if (route.service().qualifiedName().equals(qualifiedName) && route.port().name().equals(portName)) {
                return route.port().listen().get(0);
            }
        }
        throw new AssertionError("no port " + portName + " of " + qualifiedName + " in " + runtime.balancer().snapshot().routes());
    }

    /**
     * Which pod answers a new connection (its echo page's backend=); {@link #DROPPED} when the
     * proxier accepts it and ends it without a byte; {@link #REFUSED} when nothing listens.
     */
    static String whoAnswers(InetSocketAddress address) throws IOException {
        return whoAnswers(address, null);
    }

    /** {@link #whoAnswers(InetSocketAddress)} for a client at {@code from}. */
    static String whoAnswers(InetSocketAddress address, InetAddress from) throws IOException {
        String response;
        try {
            response = RawHttp.get(address, "/", from);
        } catch (java.net.ConnectException nothingListens) {
            return REFUSED;
        } catch (java.net.SocketException reset) {
            return DROPPED;
        }
        return response.isEmpty() ? DROPPED : RawHttp.backendOf(response).replaceAll(":\\d+$", "");
    }
}

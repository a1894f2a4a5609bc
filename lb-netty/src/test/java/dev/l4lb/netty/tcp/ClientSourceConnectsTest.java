package dev.l4lb.netty.tcp;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.BindException;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.Set;

import io.netty.channel.ConnectTimeoutException;
import org.junit.jupiter.api.Test;

import dev.l4lb.core.model.Addresses;
import dev.l4lb.core.model.Cidr;
import dev.l4lb.core.model.Endpoint;
import dev.l4lb.core.model.PortPolicy;
import dev.l4lb.core.model.Protocol;
import dev.l4lb.core.model.Service;
import dev.l4lb.core.model.ServicePort;
import dev.l4lb.core.model.UpstreamSource;
import dev.l4lb.core.table.ServiceSnapshot;
import dev.l4lb.netty.tcp.ClientSourceConnects.AfterFailure;

/**
 * Which connections come from the client's address, and what a failed one calls for: only where
 * the port asks, the node has the reply path for the client's family, and the endpoint's reply
 * can come back through it (the rest go from the node, as kube-proxy masquerades them). The lab
 * test ({@code ClientSourceNetnsTest}) shows the connections themselves; this is the decision,
 * case by case.
 */
class ClientSourceConnectsTest {
    private static final List<Cidr> POD_RANGES = List.of(cidr("10.244.0.0/16"));
    private static final UpstreamSource PODS = UpstreamSource.client(POD_RANGES);
    private static final UpstreamSource EVERYONE = UpstreamSource.client(List.of());
    private static final InetSocketAddress POD = endpoint("10.244.1.7");
    private static final InetAddress OUTSIDE = ip("203.0.113.9");
    private static final InetAddress A_POD = ip("10.244.3.3");
    private static final ConnectTimeoutException TIMEOUT = new ConnectTimeoutException("connection timed out");

    @Test
    void offUntilTheReplyPathIsThereAndPerFamily() {
        ClientSourceConnects sources = new ClientSourceConnects(null);
        assertThat(sources.fromClient(EVERYONE, OUTSIDE, POD)).isFalse();
        assertThat(sources.offReason(false)).isPresent();

        sources.replyPath(null, "ip6tables is not installed", List.of());
        assertThat(sources.fromClient(EVERYONE, OUTSIDE, POD)).isTrue();
        assertThat(sources.fromClient(EVERYONE, ip("2001:db8::9"), endpoint("fd00:244::7"))).isFalse();
        assertThat(sources.offReason(true)).hasValue("ip6tables is not installed");
    }

    @Test
    void aTransportWithoutTransparentSocketsStaysOffAndARefusedOptionTurnsItOff() {
        ClientSourceConnects nio = new ClientSourceConnects("the NIO transport cannot make transparent sockets");
        nio.replyPath(null, null, List.of());
        assertThat(nio.fromClient(EVERYONE, OUTSIDE, POD)).isFalse();
        assertThat(nio.offReason(false)).hasValue("the NIO transport cannot make transparent sockets");

        ClientSourceConnects sources = on();
        sources.transparentRefused(new io.netty.channel.ChannelException("setsockopt() failed: Operation not permitted"));
        assertThat(sources.fromClient(EVERYONE, OUTSIDE, POD)).isFalse();
        assertThat(sources.offReason(true)).hasValueSatisfying(why -> assertThat(why).startsWith("IP_TRANSPARENT was refused"));
    }

    @Test
    void onlyWhereTheReplyCanComeBackThroughTheNode() {
        ClientSourceConnects sources = on();
        sources.node(Set.of(ip("192.0.2.10")), List.of(cidr("10.244.9.1/24"), cidr("192.0.2.10/24")));

        assertThat(sources.fromClient(UpstreamSource.BALANCER, A_POD, POD)).isFalse();
        assertThat(sources.fromClient(PODS, A_POD, POD)).isTrue();
        assertThat(sources.fromClient(PODS, OUTSIDE, POD)).as("outside the port's clients").isFalse();
        assertThat(sources.fromClient(EVERYONE, ip("127.0.0.1"), POD)).as("loopback cannot leave the node").isFalse();
        assertThat(sources.fromClient(EVERYONE, ip("10.244.1.7"), POD)).as("a pod calling itself").isFalse();
        assertThat(sources.fromClient(EVERYONE, ip("2001:db8::9"), POD)).as("another family").isFalse();
        assertThat(sources.fromClient(EVERYONE, OUTSIDE, endpoint("192.0.2.10")))
                .as("a host-network endpoint answers from the node's own stack").isFalse();
        assertThat(sources.fromClient(EVERYONE, OUTSIDE, endpoint("198.51.100.4")))
                .as("outside the pod ranges the reply path watches (the API server's endpoint)").isFalse();
        assertThat(sources.fromClient(EVERYONE, ip("2001:db8::9"), endpoint("fd00:244::7")))
                .as("no IPv6 pod range: the IPv6 rule takes replies from anywhere").isTrue();
        assertThat(sources.fromClient(EVERYONE, ip("10.244.9.20"), endpoint("10.244.9.30")))
                .as("pods on one bridge answer each other directly").isFalse();
        assertThat(sources.fromClient(EVERYONE, OUTSIDE, endpoint("10.244.9.30"))).as("from outside, through the bridge's gateway").isTrue();
    }

    /** A timeout where no connect from a client's address ever worked may be replies routed elsewhere; nothing else is. */
    @Test
    void whatAFailedConnectFromAClientsAddressCallsFor() {
        ClientSourceConnects sources = on();

        assertThat(sources.afterFailure(OUTSIDE, POD, TIMEOUT)).isEqualTo(AfterFailure.PROBE_FROM_NODE);
        assertThat(sources.afterFailure(OUTSIDE, POD, new ConnectException("Connection refused")))
                .as("the reset came back: the reply path works").isEqualTo(AfterFailure.FAILED);
        assertThat(sources.afterFailure(OUTSIDE, POD, new BindException("Cannot assign requested address")))
                .as("a local error: this connection only").isEqualTo(AfterFailure.RETRY_FROM_NODE);

        // Once reached from an outside client's address, a timeout there is the endpoint's (a
        // NetworkPolicy that drops this client keeps it out); a pod client has not reached it yet.
        sources.reached(OUTSIDE, POD);
        assertThat(sources.afterFailure(ip("203.0.113.10"), POD, TIMEOUT)).isEqualTo(AfterFailure.FAILED);
        assertThat(sources.afterFailure(A_POD, POD, TIMEOUT)).isEqualTo(AfterFailure.PROBE_FROM_NODE);
    }

    @Test
    void anEndpointWhoseRepliesBypassTheNodeIsConnectedFromTheNodeForThatKindOfClientUntilItLeaves() {
        ClientSourceConnects sources = on();

        sources.connectedFromNode(A_POD, POD, TIMEOUT, true);
        assertThat(sources.fromClient(EVERYONE, A_POD, POD)).isFalse();
        assertThat(sources.fromClient(EVERYONE, OUTSIDE, POD)).as("outside clients' replies take another way").isTrue();
        assertThat(sources.fromClient(EVERYONE, ip("10.244.3.4"), endpoint("10.244.1.8"))).isTrue();
        assertThat(sources.bypassing()).containsEntry(POD, "connection timed out");
        assertThat(sources.fromNodeAfterFailure()).isEqualTo(1);

        sources.connectedFromNode(A_POD, endpoint("10.244.1.9"), new BindException("in use"), false);
        assertThat(sources.bypassing()).as("a local error marks nothing").containsOnlyKeys(POD);

        // A connect from a pod's address that works again ends it.
        sources.reached(A_POD, POD);
        assertThat(sources.bypassing()).isEmpty();
        assertThat(sources.fromClient(EVERYONE, A_POD, POD)).isTrue();

        sources.connectedFromNode(A_POD, POD, TIMEOUT, true);
        sources.forgetAllBut(ServiceSnapshot.build(List.of(service(POD)), ServiceSnapshot.empty()));
        assertThat(sources.bypassing()).as("still an endpoint").containsOnlyKeys(POD);
        sources.forgetAllBut(ServiceSnapshot.build(List.of(service(endpoint("10.244.1.8"))), ServiceSnapshot.empty()));
        assertThat(sources.bypassing()).as("gone: a new pod may take its address").isEmpty();
        assertThat(sources.fromClient(EVERYONE, A_POD, POD)).isTrue();
    }

    /** Once due, one connection tries the client's address again; the others meanwhile go from the node. */
    @Test
    void aBypassingEndpointIsTriedFromTheClientsAddressAgainByOneConnectionWhenDue() throws InterruptedException {
        ClientSourceConnects sources = new ClientSourceConnects(null, Duration.ofMillis(300));
        sources.replyPath(null, null, POD_RANGES);
        sources.connectedFromNode(OUTSIDE, POD, TIMEOUT, true);
        assertThat(sources.fromClient(EVERYONE, OUTSIDE, POD)).isFalse();

        Thread.sleep(400); // past the 300 ms; how much past does not matter
        assertThat(sources.fromClient(EVERYONE, OUTSIDE, POD)).as("the one that tries").isTrue();
        assertThat(sources.fromClient(EVERYONE, ip("203.0.113.10"), POD)).as("the others, meanwhile").isFalse();
        assertThat(sources.bypassing()).containsOnlyKeys(POD);
    }

    private static ClientSourceConnects on() {
        ClientSourceConnects sources = new ClientSourceConnects(null);
        sources.replyPath(null, null, POD_RANGES);
        return sources;
    }

    private static Service service(InetSocketAddress endpoint) {
        return new Service("lab", "web", List.of(new ServicePort("http", Protocol.TCP, List.of(), 0,
                PortPolicy.defaults().withUpstreamSource(EVERYONE), List.of(Endpoint.of(endpoint)))));
    }

    private static InetSocketAddress endpoint(String ip) {
        return new InetSocketAddress(ip(ip), 8080);
    }

    private static Cidr cidr(String text) {
        return Cidr.parse(text).orElseThrow();
    }

    private static InetAddress ip(String text) {
        return Addresses.parseIp(text).orElseThrow();
    }
}

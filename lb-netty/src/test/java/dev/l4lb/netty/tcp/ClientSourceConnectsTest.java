package dev.l4lb.netty.tcp;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.ConnectException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Set;

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

/**
 * Which connections come from the client's address: only where the port asks, the node has the
 * reply path for the client's family, and the kernel could carry it (the rest go from the node,
 * as kube-proxy masquerades them). The lab test ({@code ClientSourceNetnsTest}) shows the
 * connections themselves; this is the decision, case by case.
 */
class ClientSourceConnectsTest {
    private static final UpstreamSource PODS = UpstreamSource.client(List.of(Cidr.parse("10.244.0.0/16").orElseThrow()));
    private static final UpstreamSource EVERYONE = UpstreamSource.client(List.of());
    private static final InetSocketAddress POD = endpoint("10.244.1.7");

    @Test
    void offUntilTheReplyPathIsThereAndPerFamily() {
        ClientSourceConnects sources = new ClientSourceConnects(null);
        assertThat(sources.fromClient(EVERYONE, ip("203.0.113.9"), POD)).isFalse();
        assertThat(sources.offReason(false)).isPresent();

        sources.replyPath(null, "ip6tables is not installed");
        assertThat(sources.fromClient(EVERYONE, ip("203.0.113.9"), POD)).isTrue();
        assertThat(sources.fromClient(EVERYONE, ip("2001:db8::9"), endpoint("fd00:244::7"))).isFalse();
        assertThat(sources.offReason(true)).hasValue("ip6tables is not installed");
    }

    @Test
    void aTransportWithoutTransparentSocketsStaysOff() {
        ClientSourceConnects sources = new ClientSourceConnects("the NIO transport cannot make transparent sockets");
        sources.replyPath(null, null);
        assertThat(sources.fromClient(EVERYONE, ip("203.0.113.9"), POD)).isFalse();
        assertThat(sources.offReason(false)).hasValue("the NIO transport cannot make transparent sockets");
    }

    @Test
    void onlyWhatThePortAsksAndTheKernelCanCarry() {
        ClientSourceConnects sources = new ClientSourceConnects(null);
        sources.replyPath(null, null);
        sources.nodeAddresses(Set.of(ip("192.0.2.10")));

        assertThat(sources.fromClient(UpstreamSource.BALANCER, ip("10.244.3.3"), POD)).isFalse();
        assertThat(sources.fromClient(PODS, ip("10.244.3.3"), POD)).isTrue();
        assertThat(sources.fromClient(PODS, ip("203.0.113.9"), POD)).as("outside the port's clients").isFalse();
        assertThat(sources.fromClient(EVERYONE, ip("127.0.0.1"), POD)).as("loopback cannot leave the node").isFalse();
        assertThat(sources.fromClient(EVERYONE, ip("10.244.1.7"), POD)).as("a pod calling itself").isFalse();
        assertThat(sources.fromClient(EVERYONE, ip("2001:db8::9"), POD)).as("another family").isFalse();
        assertThat(sources.fromClient(EVERYONE, ip("203.0.113.9"), endpoint("192.0.2.10")))
                .as("a host-network endpoint answers from the node's own stack").isFalse();
    }

    @Test
    void anEndpointWhoseRepliesBypassTheNodeIsConnectedFromTheNodeUntilItLeaves() {
        ClientSourceConnects sources = new ClientSourceConnects(null);
        sources.replyPath(null, null);

        sources.repliesBypass(POD, new ConnectException("connection timed out"));
        assertThat(sources.fromClient(EVERYONE, ip("203.0.113.9"), POD)).isFalse();
        assertThat(sources.fromClient(EVERYONE, ip("203.0.113.9"), endpoint("10.244.1.8"))).isTrue();
        assertThat(sources.bypassing()).containsEntry(POD, "connection timed out");

        sources.forgetAllBut(ServiceSnapshot.build(List.of(service(POD)), ServiceSnapshot.empty()));
        assertThat(sources.bypassing()).as("still an endpoint").containsOnlyKeys(POD);
        sources.forgetAllBut(ServiceSnapshot.build(List.of(service(endpoint("10.244.1.8"))), ServiceSnapshot.empty()));
        assertThat(sources.bypassing()).as("gone: a new pod may take its address").isEmpty();
        assertThat(sources.fromClient(EVERYONE, ip("203.0.113.9"), POD)).isTrue();
    }

    private static Service service(InetSocketAddress endpoint) {
        return new Service("lab", "web", List.of(new ServicePort("http", Protocol.TCP, List.of(), 0,
                PortPolicy.defaults().withUpstreamSource(EVERYONE), List.of(Endpoint.of(endpoint)))));
    }

    private static InetSocketAddress endpoint(String ip) {
        return new InetSocketAddress(ip(ip), 8080);
    }

    private static InetAddress ip(String text) {
        return Addresses.parseIp(text).orElseThrow();
    }
}

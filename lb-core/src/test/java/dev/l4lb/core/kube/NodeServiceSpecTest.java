package dev.l4lb.core.kube;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;

import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import org.junit.jupiter.api.Test;

import dev.l4lb.core.model.Addresses;
import dev.l4lb.core.model.Cidr;
import dev.l4lb.core.model.PortPolicy;
import dev.l4lb.core.model.Protocol;

/** The first stage alone: one Service's spec as it applies on a node, or why it is skipped. */
class NodeServiceSpecTest {
    private static final InetAddress NODE_IP = ip("192.0.2.10");
    private static final NodeContext NODE = new NodeContext("node-a", Set.of(ip("127.0.0.1"), NODE_IP), List.of(),
            ip("0.0.0.0"), false);

    private final List<String> skipped = new ArrayList<>();

    @Test
    void servicesWithNothingToProxyAreSkippedWithTheReason() {
        assertThat(read(new ServiceBuilder(web()).editSpec().withType("ExternalName").endSpec().build())).isEmpty();
        assertThat(read(new ServiceBuilder(web()).editSpec().withClusterIP("None").endSpec().build())).isEmpty();
        assertThat(read(new ServiceBuilder(web()).editSpec().withClusterIPs("10.96.0.10", "not-an-ip").endSpec().build())).isEmpty();
        assertThat(read(new ServiceBuilder(web()).withSpec(null).build())).isEmpty();

        assertThat(skipped).containsExactly(
                "shop/web: type ExternalName is a DNS alias, nothing to proxy",
                "shop/web: headless (clusterIP None), clients reach the pods directly",
                "shop/web: clusterIP not-an-ip is not an IP address",
                "shop/web: no spec");
    }

    @Test
    void aManifestWithoutClusterIpIsServedWithoutOne() {
        NodeServiceSpec spec = read(new ServiceBuilder(web()).editSpec().withClusterIP(null).endSpec().build()).orElseThrow();

        assertThat(spec.clusterIps()).isEmpty();
        assertThat(spec.namespace()).isEqualTo("shop");
        assertThat(spec.name()).isEqualTo("web");
        assertThat(skipped).isEmpty();
    }

    @Test
    void policiesAndAffinityAreReadWithKubernetesDefaults() {
        NodeServiceSpec plain = read(web()).orElseThrow();
        assertThat(plain.clientIp()).isFalse();
        assertThat(plain.affinityTimeout()).isEqualTo(PortPolicy.DEFAULT_AFFINITY_TIMEOUT_SECONDS);
        assertThat(plain.internalLocal()).isFalse();
        assertThat(plain.externalLocal()).isFalse();

        NodeServiceSpec sticky = read(new ServiceBuilder(web()).editSpec().withSessionAffinity("ClientIP")
                .withNewSessionAffinityConfig().withNewClientIP().withTimeoutSeconds(1_000_000).endClientIP()
                .endSessionAffinityConfig().withInternalTrafficPolicy("Local").withExternalTrafficPolicy("Local")
                .endSpec().build()).orElseThrow();
        assertThat(sticky.clientIp()).isTrue();
        assertThat(sticky.affinityTimeout()).isEqualTo(PortPolicy.MAX_AFFINITY_TIMEOUT_SECONDS);
        assertThat(sticky.internalLocal()).isTrue();
        assertThat(sticky.externalLocal()).isTrue();
    }

    @Test
    void onlyTheExternalAndLoadBalancerIpsThisNodeOwnsAreKept() {
        Service service = new ServiceBuilder(web()).editSpec().withType("LoadBalancer")
                .withExternalIPs("192.0.2.10", "198.51.100.1", "192.0.2.10").endSpec()
                .withNewStatus().withNewLoadBalancer()
                .addNewIngress().withIp("192.0.2.10").endIngress()
                .addNewIngress().withIp("127.0.0.1").withIpMode("Proxy").endIngress()
                .endLoadBalancer().endStatus().build();

        NodeServiceSpec spec = read(service).orElseThrow();

        assertThat(spec.externalIps()).containsExactly(NODE_IP);
        assertThat(spec.ingressIps()).as("an ipMode Proxy ingress is not short-cut on the node").containsExactly(NODE_IP);
        assertThat(spec.loadBalancer()).isTrue();
        assertThat(spec.hasNodePorts()).isTrue();
    }

    @Test
    void sourceRangesThatAdmitTheNodeAdmitItsOwnLoadBalancerIpAndBadEntriesAreReported() {
        Service service = new ServiceBuilder(web()).editSpec().withType("LoadBalancer")
                .withLoadBalancerSourceRanges("192.0.2.0/24", "nonsense").endSpec()
                .withNewStatus().withNewLoadBalancer().addNewIngress().withIp("192.0.2.10").endIngress()
                .endLoadBalancer().endStatus().build();

        NodeServiceSpec spec = read(service).orElseThrow();

        assertThat(spec.sourceRanges()).containsExactly(Cidr.parse("192.0.2.0/24").orElseThrow(),
                Cidr.parse("192.0.2.10/32").orElseThrow());
        assertThat(skipped).containsExactly("shop/web: loadBalancerSourceRanges entry nonsense is not a CIDR, ignored");
    }

    @Test
    void aPortIsReadOrSkippedWithItsIndex() {
        NodeServiceSpec spec = read(new ServiceBuilder(web()).editSpec()
                .addNewPort().withName("sctp").withPort(9).withProtocol("SCTP").endPort()
                .addNewPort().withName("zero").withPort(0).endPort()
                .addNewPort().withPort(53).withProtocol("UDP").withNodePort(30053).endPort()
                .endSpec().build()).orElseThrow();

        assertThat(spec.port(0, skipped::add)).hasValue(new NodeServiceSpec.Port("http", "shop/web:http", Protocol.TCP, "TCP", 80, null));
        assertThat(spec.port(1, skipped::add)).isEmpty();
        assertThat(spec.port(2, skipped::add)).isEmpty();
        assertThat(spec.port(3, skipped::add)).hasValue(new NodeServiceSpec.Port("", "shop/web:53", Protocol.UDP, "UDP", 53, 30053));
        assertThat(skipped).containsExactly("shop/web:sctp: protocol SCTP is not proxied (TCP and UDP are)",
                "shop/web:zero: spec.ports[2].port must be 1..65535");
    }

    private Optional<NodeServiceSpec> read(Service service) {
        return NodeServiceSpec.read(service, NODE, skipped::add);
    }

    private static Service web() {
        return new ServiceBuilder().withNewMetadata().withName("web").withNamespace("shop").endMetadata()
                .withNewSpec().withClusterIP("10.96.0.10")
                .addNewPort().withName("http").withPort(80).withProtocol("TCP").endPort().endSpec().build();
    }

    private static InetAddress ip(String text) {
        return Addresses.parseIp(text).orElseThrow();
    }
}

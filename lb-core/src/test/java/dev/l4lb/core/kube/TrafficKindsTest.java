package dev.l4lb.core.kube;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import org.junit.jupiter.api.Test;

import dev.l4lb.core.model.Addresses;
import dev.l4lb.core.model.Cidr;
import dev.l4lb.core.model.Protocol;
import dev.l4lb.core.model.ShortCircuit;

/** The kinds stage alone: a port's kinds of traffic, how they merge and claim, and their short circuit. */
class TrafficKindsTest {
    private static final InetAddress NODE_IP = ip("192.0.2.10");
    private static final NodeContext NODE = new NodeContext("node-a", Set.of(ip("127.0.0.1"), NODE_IP), List.of(),
            ip("0.0.0.0"), false, List.of(Cidr.parse("10.244.0.0/16").orElseThrow()));
    private static final TrafficKind CLUSTER =
            new TrafficKind("", List.of(address("0.0.0.0", 40000)), List.of(), false, List.of(), false);

    private final List<String> skipped = new ArrayList<>();

    @Test
    void underClusterPoliciesEveryKindSharesOnePort() {
        NodeServiceSpec spec = spec(nodePortService("Cluster").editSpec().withExternalIPs("192.0.2.10").endSpec().build());

        List<TrafficKind> kinds = TrafficKinds.of(spec, firstPort(spec), CLUSTER, NODE);

        assertThat(kinds).singleElement().satisfies(kind -> {
            assertThat(kind.suffix()).isEmpty();
            assertThat(kind.listen()).containsExactly(address("0.0.0.0", 40000), address("0.0.0.0", 30080),
                    address("192.0.2.10", 80));
            assertThat(kind.shortCircuits()).isFalse();
        });
        assertThat(TrafficKinds.shortCircuit(kinds, "http", NODE)).isEmpty();
    }

    @Test
    void aLocalExternalKindGetsItsOwnPortAndHandsInsideClientsToTheClusterPort() {
        NodeServiceSpec spec = spec(nodePortService("Local").build());

        List<TrafficKind> kinds = TrafficKinds.of(spec, firstPort(spec), CLUSTER, NODE);

        assertThat(kinds).extracting(TrafficKind::suffix, TrafficKind::shortCircuits)
                .containsExactly(org.assertj.core.groups.Tuple.tuple("", false),
                        org.assertj.core.groups.Tuple.tuple(TrafficKinds.EXTERNAL_SUFFIX, true));
        assertThat(TrafficKinds.shortCircuit(kinds, "http", NODE))
                .hasValue(new ShortCircuit("http", NODE.localAddresses(), NODE.clusterCidrs()));
    }

    @Test
    void withBothPoliciesLocalTheInsideClientsGoToAListenerlessClusterPort() {
        NodeServiceSpec spec = spec(nodePortService("Local").editSpec().withInternalTrafficPolicy("Local").endSpec().build());
        TrafficKind localCluster = new TrafficKind("", CLUSTER.listen(), List.of(), true, List.of(), false);

        List<TrafficKind> kinds = TrafficKinds.of(spec, firstPort(spec), localCluster, NODE);

        assertThat(TrafficKinds.shortCircuit(kinds, "http", NODE)).get().extracting(ShortCircuit::port)
                .isEqualTo("http" + TrafficKinds.CLUSTER_SUFFIX);
    }

    @Test
    void loadBalancerIpsWithSourceRangesAreAKindOfTheirOwn() {
        NodeServiceSpec spec = spec(nodePortService("Cluster").editSpec().withLoadBalancerSourceRanges("203.0.113.0/24")
                .endSpec().withNewStatus().withNewLoadBalancer().addNewIngress().withIp("192.0.2.10").endIngress()
                .endLoadBalancer().endStatus().build());

        List<TrafficKind> kinds = TrafficKinds.of(spec, firstPort(spec), CLUSTER, NODE);

        assertThat(kinds).extracting(TrafficKind::suffix).containsExactly("", TrafficKinds.LOAD_BALANCER_SUFFIX);
        assertThat(kinds.get(1).listen()).containsExactly(address("192.0.2.10", 80));
        assertThat(kinds.get(1).sourceRanges()).containsExactly(Cidr.parse("203.0.113.0/24").orElseThrow());
    }

    @Test
    void udpNodePortsBindEachLocalAddressSoRepliesLeaveFromTheOneAsked() {
        assertThat(TrafficKinds.nodePortListeners(NODE, Protocol.UDP, 30053))
                .containsExactly(address("127.0.0.1", 30053), address("192.0.2.10", 30053));
        assertThat(TrafficKinds.nodePortListeners(NODE, Protocol.TCP, 30080)).containsExactly(address("0.0.0.0", 30080));
    }

    @Test
    void aKindWhoseAddressesAnOlderServiceHoldsIsDroppedAndReported() {
        AddressClaims claims = new AddressClaims(skipped::add);
        claims.claim(Protocol.TCP, List.of(address("0.0.0.0", 30080)), "shop/older:http/external");
        NodeServiceSpec spec = spec(nodePortService("Local").build());

        List<TrafficKind> claimed = TrafficKinds.claim(TrafficKinds.of(spec, firstPort(spec), CLUSTER, NODE),
                Protocol.TCP, "shop/web:http", claims);

        assertThat(claimed).extracting(TrafficKind::suffix).containsExactly("");
        assertThat(skipped).containsExactly("shop/web:http/external: TCP 0.0.0.0:30080 is already served for "
                + "shop/older:http/external (the older Service keeps it)");
    }

    private NodeServiceSpec spec(Service service) {
        return NodeServiceSpec.read(service, NODE, skipped::add).orElseThrow();
    }

    private NodeServiceSpec.Port firstPort(NodeServiceSpec spec) {
        return spec.port(0, skipped::add).orElseThrow();
    }

    private static ServiceBuilder nodePortService(String externalPolicy) {
        return new ServiceBuilder().withNewMetadata().withName("web").withNamespace("shop").endMetadata()
                .withNewSpec().withType("LoadBalancer").withClusterIP("10.96.0.10").withExternalTrafficPolicy(externalPolicy)
                .addNewPort().withName("http").withPort(80).withNodePort(30080).withProtocol("TCP").endPort().endSpec();
    }

    private static InetSocketAddress address(String ip, int port) {
        return new InetSocketAddress(ip(ip), port);
    }

    private static InetAddress ip(String text) {
        return Addresses.parseIp(text).orElseThrow();
    }
}

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
import dev.l4lb.core.model.Protocol;

/** The proxy ports stage alone: each ClusterIP kind's proxy listener and portals, or its intercepted ClusterIPs. */
class ProxyListenersTest {
    private static final NodeContext NODE = new NodeContext("node-a", Set.of(ip("127.0.0.1")), List.of(),
            ip("0.0.0.0"), false);

    private final List<String> skipped = new ArrayList<>();

    @Test
    void aClusterIpPortGetsAProxyListenerAndAPortalPerClusterIp() {
        NodeServiceSpec spec = spec(web("10.96.0.10", "fd00::10"));
        ProxyListeners listeners = new ProxyListeners(NODE, new ProxyPortRange(40000, 40010), claims(), skipped::add);

        TrafficKind cluster = listeners.clusterTraffic(spec, firstPort(spec)).orElseThrow();

        assertThat(cluster.listen()).containsExactly(new InetSocketAddress(ip("0.0.0.0"), 40000));
        assertThat(cluster.intercepted()).isEmpty();
        assertThat(listeners.portals()).containsExactly(
                new Portal("shop/web:http", Protocol.TCP, ip("10.96.0.10"), 80, 40000),
                new Portal("shop/web:http", Protocol.TCP, ip("fd00::10"), 80, 40000));
    }

    @Test
    void withATransparentListenerTcpClusterIpsAreInterceptedWithoutAProxyPort() {
        NodeServiceSpec spec = spec(web("10.96.0.10"));
        ProxyPortRange ports = new ProxyPortRange(40000, 40010);
        ProxyListeners listeners = new ProxyListeners(NODE.withTransparentTcp(true), ports, claims(), skipped::add);

        TrafficKind cluster = listeners.clusterTraffic(spec, firstPort(spec)).orElseThrow();

        assertThat(cluster.listen()).isEmpty();
        assertThat(cluster.intercepted()).containsExactly(new InetSocketAddress(ip("10.96.0.10"), 80));
        assertThat(listeners.portals()).isEmpty();
        assertThat(ports.handedOut(40000)).isFalse();
    }

    @Test
    void aProxyPortNeverTakesAFixedPortNumber() {
        AddressClaims claims = claims();
        Service nodePort = new ServiceBuilder(web("10.96.0.20")).editMetadata().withName("node").endMetadata()
                .editSpec().withType("NodePort").editFirstPort().withNodePort(40000).endPort().endSpec().build();
        claims.reserveFixedPorts(List.of(nodePort));
        NodeServiceSpec spec = spec(web("10.96.0.10"));
        ProxyListeners listeners = new ProxyListeners(NODE, new ProxyPortRange(40000, 40010), claims, skipped::add);

        assertThat(listeners.clusterTraffic(spec, firstPort(spec)).orElseThrow().listen())
                .containsExactly(new InetSocketAddress(ip("0.0.0.0"), 40001));
    }

    @Test
    void aPortWithNoProxyPortLeftIsSkippedAndTheOthersAreReleasedAtTheEnd() {
        ProxyPortRange ports = new ProxyPortRange(40000, 40000);
        NodeServiceSpec first = spec(web("10.96.0.10"));
        NodeServiceSpec second = spec(new ServiceBuilder(web("10.96.0.11")).editMetadata().withName("api").endMetadata().build());
        ProxyListeners listeners = new ProxyListeners(NODE, ports, claims(), skipped::add);

        assertThat(listeners.clusterTraffic(first, firstPort(first))).isPresent();
        assertThat(listeners.clusterTraffic(second, firstPort(second))).isEmpty();
        assertThat(skipped).singleElement().asString().isEqualTo("shop/api:http: no proxy port left in 40000-40000 for shop/api:http/TCP");

        new ProxyListeners(NODE, ports, claims(), skipped::add).releaseUnused();
        assertThat(ports.handedOut(40000)).as("a translation without shop/web gives its port back").isFalse();
    }

    private AddressClaims claims() {
        return new AddressClaims(skipped::add);
    }

    private NodeServiceSpec spec(Service service) {
        return NodeServiceSpec.read(service, NODE, skipped::add).orElseThrow();
    }

    private NodeServiceSpec.Port firstPort(NodeServiceSpec spec) {
        return spec.port(0, skipped::add).orElseThrow();
    }

    private static Service web(String... clusterIps) {
        return new ServiceBuilder().withNewMetadata().withName("web").withNamespace("shop").endMetadata()
                .withNewSpec().withClusterIP(clusterIps[0]).withClusterIPs(clusterIps)
                .addNewPort().withName("http").withPort(80).withProtocol("TCP").endPort().endSpec().build();
    }

    private static InetAddress ip(String text) {
        return Addresses.parseIp(text).orElseThrow();
    }
}

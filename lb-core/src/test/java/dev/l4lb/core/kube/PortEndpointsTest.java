package dev.l4lb.core.kube;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.groups.Tuple.tuple;

import java.net.InetAddress;
import java.util.List;
import java.util.Map;

import io.fabric8.kubernetes.api.model.discovery.v1.Endpoint;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSliceBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.ForNode;
import io.fabric8.kubernetes.api.model.discovery.v1.ForZone;
import org.junit.jupiter.api.Test;

import dev.l4lb.core.model.Addresses;

/** The endpoints stage alone: a port's endpoints from its slices, and which each traffic policy uses. */
class PortEndpointsTest {

    @Test
    void theSlicePortWithThisNameAndProtocolGivesTheNumberAndEachAddressCountsOnce() {
        EndpointSlice old = slice("web-1", 8080, endpoint("10.1.0.2", "node-b", true, true),
                endpoint("10.1.0.1", "node-a", true, false));
        // A new pod that reuses an old one's address: the entry that is not terminating wins.
        EndpointSlice renewed = slice("web-2", 8080, endpoint("10.1.0.2", "node-a", false, false));
        EndpointSlice otherPort = new EndpointSliceBuilder(slice("web-3", 9090, endpoint("10.1.0.9", "node-a", true, false)))
                .editFirstPort().withName("metrics").endPort().build();

        PortEndpoints endpoints = PortEndpoints.read(List.of(old, renewed, otherPort), "http", "TCP");

        assertThat(endpoints.all()).extracting(e -> Addresses.format(e.address()), dev.l4lb.core.model.Endpoint::node,
                        dev.l4lb.core.model.Endpoint::ready)
                .containsExactly(tuple("10.1.0.1:8080", "node-a", true),
                        tuple("10.1.0.2:8080", "node-a", false));
        assertThat(PortEndpoints.read(List.of(old), "http", "UDP").all()).isEmpty();
    }

    @Test
    void nodeHintsForThisNodeWinOverZoneHints() {
        PortEndpoints endpoints = PortEndpoints.read(List.of(slice("web-1", 8080,
                hinted(endpoint("10.1.0.1", "node-a", true, false), "zone-a", "node-a"),
                hinted(endpoint("10.1.0.2", "node-b", true, false), "zone-a", "node-b"),
                hinted(endpoint("10.1.0.3", "node-c", true, false), "zone-b", "node-c"))), "http", "TCP");

        assertThat(addresses(endpoints.forCluster("node-a", "zone-a"))).containsExactly("10.1.0.1");
        assertThat(addresses(endpoints.forCluster("node-x", "zone-a"))).containsExactly("10.1.0.1", "10.1.0.2");
        assertThat(addresses(endpoints.forCluster("node-x", "zone-x"))).containsExactly("10.1.0.1", "10.1.0.2", "10.1.0.3");
    }

    @Test
    void oneReadyEndpointWithoutHintsMeansNoTopology() {
        PortEndpoints endpoints = PortEndpoints.read(List.of(slice("web-1", 8080,
                hinted(endpoint("10.1.0.1", "node-a", true, false), "zone-a", "node-a"),
                endpoint("10.1.0.2", "node-b", true, false))), "http", "TCP");

        assertThat(addresses(endpoints.forCluster("node-a", "zone-a"))).containsExactly("10.1.0.1", "10.1.0.2");
    }

    @Test
    void localPoliciesUseThisNodesEndpointsAndHealthCountsOnlyTheReadyOnes() {
        PortEndpoints endpoints = PortEndpoints.read(List.of(slice("web-1", 8080,
                endpoint("10.1.0.1", "node-a", true, false),
                endpoint("10.1.0.2", "node-a", false, true),
                endpoint("10.1.0.3", "node-b", true, false))), "http", "TCP");

        assertThat(addresses(endpoints.onNode("node-a"))).containsExactly("10.1.0.1", "10.1.0.2");
        assertThat(endpoints.readyOn("node-a")).containsExactly(ip("10.1.0.1"));
    }

    private static List<String> addresses(List<dev.l4lb.core.model.Endpoint> endpoints) {
        return endpoints.stream().map(e -> Addresses.formatIp(e.address().getAddress())).toList();
    }

    private static EndpointSlice slice(String name, int port, Endpoint... endpoints) {
        return new EndpointSliceBuilder().withNewMetadata().withName(name).withNamespace("shop")
                .withLabels(Map.of(ClusterServices.SERVICE_NAME_LABEL, "web")).endMetadata()
                .withAddressType("IPv4")
                .addNewPort().withName("http").withPort(port).withProtocol("TCP").endPort()
                .withEndpoints(endpoints).build();
    }

    private static Endpoint endpoint(String address, String node, boolean ready, boolean terminating) {
        return new EndpointBuilder().withAddresses(address).withNodeName(node)
                .withNewConditions().withReady(ready).withServing(ready).withTerminating(terminating).endConditions()
                .build();
    }

    private static Endpoint hinted(Endpoint endpoint, String zone, String node) {
        return new EndpointBuilder(endpoint).withNewHints().addToForZones(new ForZone(zone)).addToForNodes(new ForNode(node)).endHints().build();
    }

    private static InetAddress ip(String text) {
        return Addresses.parseIp(text).orElseThrow();
    }
}

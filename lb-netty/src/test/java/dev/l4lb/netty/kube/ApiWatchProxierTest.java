package dev.l4lb.netty.kube;

import static dev.l4lb.netty.kube.KubeFixtures.DROPPED;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSliceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesCrudDispatcher;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.mockwebserver.Context;
import io.fabric8.mockwebserver.MockWebServer;
import io.fabric8.mockwebserver.http.MockResponse;
import io.fabric8.mockwebserver.http.RecordedRequest;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import dev.l4lb.core.kube.ClusterObjects;
import dev.l4lb.core.kube.KubeManifests;
import dev.l4lb.core.model.SessionAffinity;
import dev.l4lb.netty.echo.EchoServer;
import dev.l4lb.netty.testing.AdminHttp;
import dev.l4lb.netty.testing.MockApi;
import dev.l4lb.netty.testing.NoLeaks;
import dev.l4lb.netty.testing.Ports;
import dev.l4lb.netty.testing.Sockets;

/**
 * The proxier against fabric8's Kubernetes mock server in CRUD mode: a real HTTP server that
 * keeps objects and streams watch events, so Services and EndpointSlices are created, changed and
 * deleted through the API as a cluster would, and the balancer must follow.
 */
@ExtendWith(NoLeaks.class)
class ApiWatchProxierTest {
    private static final Duration CONVERGE = Duration.ofSeconds(20);

    private final KubernetesCrudDispatcher store = new KubernetesCrudDispatcher();
    private KubernetesMockServer server;
    private KubernetesClient api;
    private EchoServer pods;
    private int podPort;
    private ProxierRuntime runtime;

    @BeforeEach
    void start() throws Exception {
        server = newServer();
        server.init(KubeFixtures.LOOPBACK, 0);
        api = server.createClient();
        podPort = Ports.free();
        pods = KubeFixtures.pods(podPort, 11, 12, 13);
    }

    @AfterEach
    void stop() {
        if (runtime != null) {
            runtime.close();
        }
        api.close();
        MockApi.stop(server);
        pods.close();
    }

    private KubernetesMockServer newServer() {
        // One dispatcher for every server instance: its objects outlive a server restart.
        return new KubernetesMockServer(new Context(), new MockWebServer(), new HashMap<>(), store, false);
    }

    /** A client that is not the node (whose only address is 127.0.0.1) nor in a pod range. */
    private static final java.net.InetAddress OUTSIDE = dev.l4lb.core.model.Addresses.parseIp("127.0.0.200").orElseThrow();

    private void startProxier(String nodeName) throws Exception {
        KubernetesClient watchClient = server.createClient();
        runtime = ProxierRuntime.start(KubeFixtures.settings(KubeFixtures.node(nodeName), Duration.ofMillis(50)),
                KubeFixtures.admin(), dev.l4lb.netty.transport.Transport.NIO, 1, dev.l4lb.netty.log.ConnectionLog.off(),
                onChange -> ApiWatch.start(watchClient, nodeName, onChange, 20));
    }

    @Test
    void servicesAndSlicesCreatedChangedAndDeletedThroughTheApiAreFollowed() throws Exception {
        startProxier("node-a");
        assertThat(runtime.balancer().snapshot().routes()).isEmpty();

        api.services().inNamespace("shop").resource(service("web", "ClientIP", "Cluster")).create();
        api.discovery().v1().endpointSlices().inNamespace("shop").resource(slice("web", "web-1", 11, 12)).create();
        // ClientIP affinity from the Service: this one client sticks to one of the two pods.
        await().atMost(CONVERGE).until(() -> !answering("shop/web").isEmpty());
        assertThat(runtime.balancer().snapshot().routes().get(0).policy().sessionAffinity()).isEqualTo(SessionAffinity.CLIENT_IP);
        assertThat(answering("shop/web")).hasSize(1).isSubsetOf("127.0.0.11", "127.0.0.12");

        // Affinity off and a third pod: new connections spread over all three.
        api.services().inNamespace("shop").resource(service("web", "None", "Cluster")).update();
        api.discovery().v1().endpointSlices().inNamespace("shop").resource(slice("web", "web-1", 11, 12, 13)).update();
        await().atMost(CONVERGE).until(() -> answering("shop/web").equals(Set.of("127.0.0.11", "127.0.0.12", "127.0.0.13")));

        // externalTrafficPolicy Local with a node port: on node-a only its pod (127.0.0.11) answers a
        // client from outside there; a client on the node itself still reaches every pod.
        int nodePort = Ports.free();
        api.services().inNamespace("shop").resource(nodePortService("web", nodePort, "Local")).update();
        InetSocketAddress nodePortAddress = new InetSocketAddress(KubeFixtures.LOOPBACK, nodePort);
        await().atMost(CONVERGE).until(() -> listening(nodePortAddress)
                && spread(nodePortAddress, OUTSIDE).equals(Set.of("127.0.0.11")));
        assertThat(spread(nodePortAddress, KubeFixtures.LOOPBACK)).containsExactlyInAnyOrder("127.0.0.11", "127.0.0.12", "127.0.0.13");
        assertThat(answering("shop/web")).containsExactlyInAnyOrder("127.0.0.11", "127.0.0.12", "127.0.0.13");

        // The node's /healthz is kube-proxy's: in sync, 200.
        assertThat(AdminHttp.get(runtime.admin().healthAddress(), "/healthz").statusCode()).isEqualTo(200);

        // Deleting the Service closes its listeners.
        InetSocketAddress proxyListener = KubeFixtures.listener(runtime, "shop/web", "http");
        api.services().inNamespace("shop").withName("web").delete();
        await().atMost(CONVERGE).until(() -> runtime.balancer().snapshot().routes().isEmpty());
        await().atMost(CONVERGE).until(() -> !listening(proxyListener) && !listening(nodePortAddress));
    }

    @Test
    void aLostWatchIsRecoveredWithoutDroppingConnections() throws Exception {
        api.services().inNamespace("shop").resource(service("web", "None", "Cluster")).create();
        api.discovery().v1().endpointSlices().inNamespace("shop").resource(slice("web", "web-1", 11)).create();
        startProxier("node-a");
        InetSocketAddress web = KubeFixtures.listener(runtime, "shop/web", "http");
        int apiPort = server.getPort();

        try (Socket open = Sockets.connect(web)) {
            Sockets.assertEchoes(open, "before ");
            // The API server goes away: the watches break; the open connection must not notice.
            server.destroy();
            Sockets.assertEchoes(open, "during ");
            assertThat(KubeFixtures.whoAnswers(web)).isEqualTo("127.0.0.11");

            // It comes back with the same objects, and a change made since: the informers relist and watch again.
            server = newServer();
            server.init(KubeFixtures.LOOPBACK, apiPort);
            api.close();
            api = server.createClient();
            api.discovery().v1().endpointSlices().inNamespace("shop").resource(slice("web", "web-1", 12)).update();
            await().atMost(Duration.ofSeconds(60)).until(() -> answering("shop/web").equals(Set.of("127.0.0.12")));
            Sockets.assertEchoes(open, "after");
        }
    }

    /**
     * The proxier's own Node, as kube-proxy watches it: its zone label picks the topology-hinted
     * endpoints, and the Cluster Autoscaler's deletion taint turns /healthz (not /livez) 503.
     */
    @Test
    void theNodesZoneLabelAndDeletionTaintAreFollowed() throws Exception {
        api.nodes().resource(new NodeBuilder().withNewMetadata().withName("node-a")
                .addToLabels("topology.kubernetes.io/zone", "zone-a").endMetadata().build()).create();
        api.nodes().resource(new NodeBuilder().withNewMetadata().withName("node-b")
                .addToLabels("topology.kubernetes.io/zone", "zone-b").endMetadata().build()).create();
        api.services().inNamespace("shop").resource(service("web", "None", "Cluster")).create();
        ClusterObjects hinted = KubeManifests.parse("hinted.yaml", """
                apiVersion: discovery.k8s.io/v1
                kind: EndpointSlice
                metadata: {name: web-1, namespace: shop, labels: {kubernetes.io/service-name: web}}
                addressType: IPv4
                ports: [{name: http, port: %d, protocol: TCP}]
                endpoints:
                  - {addresses: [127.0.0.11], nodeName: node-a, hints: {forZones: [{name: zone-a}]}}
                  - {addresses: [127.0.0.12], nodeName: node-b, hints: {forZones: [{name: zone-b}]}}
                  - {addresses: [127.0.0.13], nodeName: node-c, hints: {forZones: [{name: zone-a}]}}
                """.formatted(podPort));
        api.discovery().v1().endpointSlices().inNamespace("shop").resource(hinted.slices().get(0)).create();
        startProxier("node-a");
        assertThat(answering("shop/web")).as("zone-a's endpoints").isEqualTo(Set.of("127.0.0.11", "127.0.0.13"));

        api.nodes().withName("node-a").edit(n -> new NodeBuilder(n).editMetadata()
                .addToLabels("topology.kubernetes.io/zone", "zone-b").endMetadata().build());
        await().atMost(CONVERGE).until(() -> answering("shop/web").equals(Set.of("127.0.0.12")));
        assertThat(AdminHttp.json(AdminHttp.get(runtime.admin().healthAddress(), "/healthz")).path("nodeEligible").asBoolean())
                .isTrue();

        api.nodes().withName("node-a").edit(n -> new NodeBuilder(n).editOrNewSpec().addNewTaint()
                .withKey("ToBeDeletedByClusterAutoscaler").withEffect("NoSchedule").endTaint().endSpec().build());
        await().atMost(CONVERGE).until(() -> AdminHttp.get(runtime.admin().healthAddress(), "/healthz").statusCode() == 503);
        assertThat(AdminHttp.json(AdminHttp.get(runtime.admin().healthAddress(), "/healthz")).path("nodeEligible").asBoolean())
                .isFalse();
        assertThat(AdminHttp.get(runtime.admin().healthAddress(), "/livez").statusCode()).isEqualTo(200);

        // Untainted, then deleted: a Node seen and then gone stays out of rotation.
        api.nodes().withName("node-a").edit(n -> new NodeBuilder(n).editSpec().withTaints().endSpec().build());
        await().atMost(CONVERGE).until(() -> AdminHttp.get(runtime.admin().healthAddress(), "/healthz").statusCode() == 200);
        api.nodes().withName("node-a").delete();
        await().atMost(CONVERGE).until(() -> AdminHttp.get(runtime.admin().healthAddress(), "/healthz").statusCode() == 503);
        assertThat(answering("shop/web")).as("no zone any more: every endpoint")
                .isEqualTo(Set.of("127.0.0.11", "127.0.0.12", "127.0.0.13"));
    }

    /**
     * Without RBAC for nodes (the API answers 403) the proxier serves all the same, its node
     * eligible; any other failure to list the Node fails the start, as for Services.
     */
    @Test
    void aNodeTheApiForbidsIsDoneWithoutAndOtherNodeFailuresFailTheStart() throws Exception {
        for (int code : new int[] {403, 500}) {
            KubernetesCrudDispatcher refusingNodes = new KubernetesCrudDispatcher() {
                @Override
                public MockResponse dispatch(RecordedRequest request) {
                    if (request.getPath() != null && request.getPath().startsWith("/api/v1/nodes")) {
                        return new MockResponse().setResponseCode(code).setBody(("{\"kind\": \"Status\", \"apiVersion\": \"v1\", "
                                + "\"status\": \"Failure\", \"message\": \"nodes is forbidden\", \"code\": " + code + "}")
                                .getBytes(java.nio.charset.StandardCharsets.UTF_8));
                    }
                    return super.dispatch(request);
                }
            };
            KubernetesMockServer refusing = new KubernetesMockServer(new Context(), new MockWebServer(), new HashMap<>(),
                    refusingNodes, false);
            refusing.init(KubeFixtures.LOOPBACK, 0);
            try (KubernetesClient client = refusing.createClient()) {
                client.services().inNamespace("shop").resource(service("web", "None", "Cluster")).create();
                client.discovery().v1().endpointSlices().inNamespace("shop").resource(slice("web", "web-1", 11)).create();
                KubernetesClient watchClient = refusing.createClient();
                if (code == 403) {
                    try (ProxierRuntime served = ProxierRuntime.start(KubeFixtures.settings(KubeFixtures.node("node-a"),
                            Duration.ofMillis(50)), KubeFixtures.admin(), dev.l4lb.netty.transport.Transport.NIO, 1,
                            dev.l4lb.netty.log.ConnectionLog.off(), onChange -> ApiWatch.start(watchClient, "node-a", onChange, 20))) {
                        assertThat(KubeFixtures.whoAnswers(KubeFixtures.listener(served, "shop/web", "http"))).isEqualTo("127.0.0.11");
                        var healthz = AdminHttp.get(served.admin().healthAddress(), "/healthz");
                        assertThat(healthz.statusCode()).isEqualTo(200);
                        assertThat(AdminHttp.json(healthz).path("nodeEligible").asBoolean()).isTrue();
                    }
                } else {
                    org.assertj.core.api.Assertions.assertThatThrownBy(() -> ProxierRuntime.start(
                                    KubeFixtures.settings(KubeFixtures.node("node-a"), Duration.ofMillis(50)), KubeFixtures.admin(),
                                    dev.l4lb.netty.transport.Transport.NIO, 1, dev.l4lb.netty.log.ConnectionLog.off(),
                                    // The informer retries a 500 until the first list's time is up: 3 s here.
                                    onChange -> ApiWatch.start(watchClient, "node-a", onChange, 3)))
                            .isInstanceOf(IllegalStateException.class).hasMessageStartingWith("cannot list Node node-a from ");
                }
            } finally {
                MockApi.stop(refusing);
            }
        }
    }

    @Test
    void headlessServicesAreSkippedAndAServiceWithNoEndpointsYetDropsConnections() throws Exception {
        api.services().inNamespace("shop").resource(new ServiceBuilder().withNewMetadata().withName("headless").endMetadata()
                .withNewSpec().withClusterIP("None").addNewPort().withPort(80).endPort().endSpec().build()).create();
        api.services().inNamespace("shop").resource(service("web", "None", "Cluster")).create();
        startProxier("node-a");

        assertThat(runtime.proxier().plan().skipped()).containsExactly("shop/headless: headless (clusterIP None), clients reach the pods directly");
        assertThat(runtime.balancer().snapshot().routes()).extracting(r -> r.service().qualifiedName()).containsExactly("shop/web");
        // A Service with no EndpointSlice yet: its listener is up and drops connections.
        assertThat(KubeFixtures.whoAnswers(KubeFixtures.listener(runtime, "shop/web", "http"))).isEqualTo(DROPPED);
    }

    private Set<String> answering(String service) {
        try {
            if (runtime.balancer().snapshot().routes().stream().noneMatch(r -> r.service().qualifiedName().equals(service))) {
                return Set.of();
            }
            return spread(KubeFixtures.listener(runtime, service, "http"));
        } catch (AssertionError e) {
            return Set.of();
        }
    }

    private static Set<String> spread(InetSocketAddress address) {
        return spread(address, null);
    }

    /** Who answers nine connections from {@code from} (any address when null). */
    private static Set<String> spread(InetSocketAddress address, java.net.InetAddress from) {
        Set<String> seen = new HashSet<>();
        for (int i = 0; i < 9; i++) {
            try {
                seen.add(KubeFixtures.whoAnswers(address, from));
            } catch (IOException e) {
                seen.add(e.toString());
            }
        }
        return seen;
    }

    private static boolean listening(InetSocketAddress address) {
        try (Socket socket = new Socket()) {
            socket.connect(address, 1000);
            return true;
        } catch (ConnectException refused) {
            return false;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static Service service(String name, String affinity, String externalPolicy) {
        return new ServiceBuilder().withNewMetadata().withName(name).withNamespace("shop").endMetadata()
                .withNewSpec().withClusterIP("10.96.0.10").withSessionAffinity(affinity)
                .withExternalTrafficPolicy(externalPolicy)
                .addNewPort().withName("http").withPort(80).withProtocol("TCP").endPort().endSpec().build();
    }

    private static Service nodePortService(String name, int nodePort, String externalPolicy) {
        return new ServiceBuilder(service(name, "None", externalPolicy)).editSpec().withType("NodePort")
                .editFirstPort().withNodePort(nodePort).endPort().endSpec().build();
    }

    private EndpointSlice slice(String service, String name, int... podOctets) {
        EndpointSliceBuilder builder = new EndpointSliceBuilder().withNewMetadata().withName(name).withNamespace("shop")
                .withLabels(Map.of("kubernetes.io/service-name", service)).endMetadata()
                .withAddressType("IPv4")
                .addNewPort().withName("http").withPort(podPort).withProtocol("TCP").endPort();
        for (int octet : podOctets) {
            builder.addNewEndpoint().withAddresses("127.0.0." + octet).withNodeName(octet == 11 ? "node-a" : "node-b")
                    .withNewConditions().withReady(true).withServing(true).withTerminating(false).endConditions().endEndpoint();
        }
        return builder.build();
    }
}

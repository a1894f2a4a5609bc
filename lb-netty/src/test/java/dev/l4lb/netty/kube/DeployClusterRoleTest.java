package dev.l4lb.netty.kube;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.io.InputStream;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;

import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSliceBuilder;
import io.fabric8.kubernetes.api.model.rbac.ClusterRole;
import io.fabric8.kubernetes.api.model.rbac.PolicyRule;
import io.fabric8.kubernetes.client.ConfigBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.server.mock.KubernetesCrudDispatcher;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import io.fabric8.mockwebserver.Context;
import io.fabric8.mockwebserver.MockWebServer;
import io.fabric8.mockwebserver.http.MockResponse;
import io.fabric8.mockwebserver.http.RecordedRequest;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import dev.l4lb.core.model.SessionAffinity;
import dev.l4lb.netty.log.ConnectionLog;
import dev.l4lb.netty.testing.MockApi;
import dev.l4lb.netty.testing.NoLeaks;
import dev.l4lb.netty.transport.Transport;

/**
 * The ClusterRole that config/kube/deploy gives lb kube is exact: the proxier, run through a life
 * against a recording API server, makes only requests its rules allow, and uses every
 * (group, resource, verb) they grant.
 */
@ExtendWith(NoLeaks.class)
class DeployClusterRoleTest {
    private static final Path CLUSTER_ROLE = Path.of("..", "config", "kube", "deploy", "clusterrole.yaml");
    private static final Duration CONVERGE = Duration.ofSeconds(20);
    /** The test's own writes carry this user agent; every other request is the proxier's. */
    private static final String WRITER = "deploy-cluster-role-test-writer";

    /** One RBAC check: the verb as the API server's authorizer names it, on a group's resource. */
    record Access(String group, String resource, String verb) {
        @Override
        public String toString() {
            return verb + " " + (group.isEmpty() ? "core" : group) + "/" + resource;
        }
    }

    private final ConcurrentLinkedQueue<String> proxierRequests = new ConcurrentLinkedQueue<>();
    private KubernetesMockServer server;
    private KubernetesClient writer;
    private ProxierRuntime runtime;

    @BeforeEach
    void start() {
        KubernetesCrudDispatcher recording = new KubernetesCrudDispatcher() {
            @Override
            public MockResponse dispatch(RecordedRequest request) {
                if (!WRITER.equals(request.getHeader("User-Agent"))) {
                    proxierRequests.add(request.getMethod() + " " + request.getPath());
                }
                return super.dispatch(request);
            }
        };
        server = new KubernetesMockServer(new Context(), new MockWebServer(), new HashMap<>(), recording, false);
        server.init(KubeFixtures.LOOPBACK, 0);
        try (KubernetesClient plain = server.createClient()) {
            writer = new KubernetesClientBuilder()
                    .withConfig(new ConfigBuilder(plain.getConfiguration()).withUserAgent(WRITER).build()).build();
        }
    }

    @AfterEach
    void stop() {
        if (runtime != null) {
            runtime.close();
        }
        writer.close();
        MockApi.stop(server);
    }

    @Test
    void theProxierUsesExactlyWhatItsClusterRoleGrants() throws Exception {
        Set<Access> granted = granted(CLUSTER_ROLE);
        assertThat(granted).as("rules in %s", CLUSTER_ROLE).isNotEmpty();

        writer.nodes().resource(new NodeBuilder().withNewMetadata().withName("node-a")
                .addToLabels("topology.kubernetes.io/zone", "zone-a").endMetadata().build()).create();
        KubernetesClient proxierClient = server.createClient();
        runtime = ProxierRuntime.start(KubeFixtures.settings(KubeFixtures.node("node-a"), Duration.ofMillis(50)),
                KubeFixtures.admin(), Transport.NIO, 1, ConnectionLog.off(),
                onChange -> ApiWatch.start(proxierClient, "node-a", onChange, 20));

        // A Service and its EndpointSlice come, then change.
        writer.services().inNamespace("shop").resource(service("None")).create();
        writer.discovery().v1().endpointSlices().inNamespace("shop").resource(slice(11)).create();
        await().atMost(CONVERGE).until(() -> !runtime.balancer().snapshot().routes().isEmpty());
        writer.services().inNamespace("shop").resource(service("ClientIP")).update();
        writer.discovery().v1().endpointSlices().inNamespace("shop").resource(slice(11, 12)).update();
        await().atMost(CONVERGE).until(() -> runtime.balancer().snapshot().routes().get(0).policy().sessionAffinity()
                == SessionAffinity.CLIENT_IP);
        // The node moves zone (the proxier watches its own Node).
        writer.nodes().withName("node-a").edit(n -> new NodeBuilder(n).editMetadata()
                .addToLabels("topology.kubernetes.io/zone", "zone-b").endMetadata().build());

        // Every grant gets used (watches start just after the first lists), then the proxier stops.
        await().atMost(CONVERGE).untilAsserted(() -> assertThat(used()).as("what the proxier asked for")
                .containsAll(granted));
        runtime.close();
        runtime = null;

        assertThat(used()).as("every request of the proxier's life: %s", proxierRequests)
                .isSubsetOf(granted);
    }

    @Test
    void requestsReadAsTheAuthorizerReadsThem() {
        assertThat(access("GET /api/v1/services?labelSelector=%21service.kubernetes.io%2Fservice-proxy-name"))
                .isEqualTo(new Access("", "services", "list"));
        assertThat(access("GET /apis/discovery.k8s.io/v1/endpointslices?allowWatchBookmarks=true&watch=true"))
                .isEqualTo(new Access("discovery.k8s.io", "endpointslices", "watch"));
        assertThat(access("GET /api/v1/nodes?fieldSelector=metadata.name%3Dnode-a&watch=false"))
                .isEqualTo(new Access("", "nodes", "list"));
        assertThat(access("GET /api/v1/namespaces/shop/services/web")).isEqualTo(new Access("", "services", "get"));
        assertThat(access("POST /api/v1/namespaces/shop/services")).isEqualTo(new Access("", "services", "create"));
        assertThat(access("PUT /api/v1/namespaces/shop/services/web/status"))
                .isEqualTo(new Access("", "services/status", "update"));
        assertThat(access("PATCH /api/v1/nodes/node-a")).isEqualTo(new Access("", "nodes", "patch"));
        assertThat(access("DELETE /apis/discovery.k8s.io/v1/namespaces/shop/endpointslices/web-1"))
                .isEqualTo(new Access("discovery.k8s.io", "endpointslices", "delete"));
        assertThat(access("DELETE /api/v1/namespaces/shop/services")).isEqualTo(new Access("", "services", "deletecollection"));
        assertThat(access("GET /api/v1/namespaces")).isEqualTo(new Access("", "namespaces", "list"));
        assertThat(access("GET /api/v1/namespaces/shop")).isEqualTo(new Access("", "namespaces", "get"));
    }

    private Set<Access> used() {
        Set<Access> used = new LinkedHashSet<>();
        for (String request : proxierRequests) {
            used.add(access(request));
        }
        return used;
    }

    /** Every (group, resource, verb) the ClusterRole's rules grant; wildcards and name limits are refused outright. */
    private static Set<Access> granted(Path file) throws IOException {
        ClusterRole role;
        try (InputStream in = Files.newInputStream(file)) {
            role = new KubernetesSerialization().unmarshal(in, ClusterRole.class);
        }
        Set<Access> granted = new LinkedHashSet<>();
        for (PolicyRule rule : role.getRules()) {
            assertThat(rule.getResourceNames()).as("resourceNames in %s", rule).isNullOrEmpty();
            assertThat(rule.getNonResourceURLs()).as("nonResourceURLs in %s", rule).isNullOrEmpty();
            for (String group : rule.getApiGroups()) {
                for (String resource : rule.getResources()) {
                    for (String verb : rule.getVerbs()) {
                        assertThat(List.of(group, resource, verb)).as("a wildcard in %s", rule).doesNotContain("*");
                        granted.add(new Access(group, resource, verb));
                    }
                }
            }
        }
        return granted;
    }

    /** A request ("METHOD /path?query") as the API server's authorizer sees it. */
    static Access access(String request) {
        String method = request.substring(0, request.indexOf(' '));
        String target = request.substring(request.indexOf(' ') + 1);
        int q = target.indexOf('?');
        String path = q < 0 ? target : target.substring(0, q);
        Map<String, String> query = new HashMap<>();
        if (q >= 0) {
            for (String pair : target.substring(q + 1).split("&")) {
                int eq = pair.indexOf('=');
                String key = URLDecoder.decode(eq < 0 ? pair : pair.substring(0, eq), StandardCharsets.UTF_8);
                query.put(key, eq < 0 ? "" : URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8));
            }
        }
        List<String> segments = new ArrayList<>(Arrays.asList(path.replaceFirst("^/", "").split("/")));
        String group;
        List<String> rest;
        if (segments.get(0).equals("api") && segments.size() >= 3) {
            group = "";
            rest = segments.subList(2, segments.size());
        } else if (segments.get(0).equals("apis") && segments.size() >= 4) {
            group = segments.get(1);
            rest = segments.subList(3, segments.size());
        } else {
            throw new AssertionError("not a resource request: " + request);
        }
        if (rest.get(0).equals("namespaces") && rest.size() >= 3) {
            rest = rest.subList(2, rest.size()); // namespaced: namespaces/{ns}/{resource}[/{name}[/{subresource}]]
        }
        String resource = rest.get(0) + (rest.size() >= 3 ? "/" + rest.get(2) : "");
        boolean named = rest.size() >= 2;
        String verb = switch (method) {
            case "GET", "HEAD" -> "true".equals(query.get("watch")) ? "watch" : named ? "get" : "list";
            case "POST" -> "create";
            case "PUT" -> "update";
            case "PATCH" -> "patch";
            case "DELETE" -> named ? "delete" : "deletecollection";
            default -> throw new AssertionError("an unexpected method: " + request);
        };
        return new Access(group, resource, verb);
    }

    private static Service service(String affinity) {
        return new ServiceBuilder().withNewMetadata().withName("web").withNamespace("shop").endMetadata()
                .withNewSpec().withClusterIP("10.96.0.10").withSessionAffinity(affinity)
                .addNewPort().withName("http").withPort(80).withProtocol("TCP").endPort().endSpec().build();
    }

    private static EndpointSlice slice(int... podOctets) {
        EndpointSliceBuilder builder = new EndpointSliceBuilder().withNewMetadata().withName("web-1").withNamespace("shop")
                .withLabels(Map.of("kubernetes.io/service-name", "web")).endMetadata()
                .withAddressType("IPv4")
                .addNewPort().withName("http").withPort(8080).withProtocol("TCP").endPort();
        for (int octet : podOctets) {
            builder.addNewEndpoint().withAddresses("127.0.0." + octet).withNodeName("node-a")
                    .withNewConditions().withReady(true).withServing(true).withTerminating(false).endConditions().endEndpoint();
        }
        return builder.build();
    }
}

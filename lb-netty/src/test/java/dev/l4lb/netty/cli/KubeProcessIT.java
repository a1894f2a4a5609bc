package dev.l4lb.netty.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSliceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesCrudDispatcher;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.mockwebserver.Context;
import io.fabric8.mockwebserver.MockWebServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.l4lb.core.model.Addresses;
import dev.l4lb.netty.transport.Transport;
import dev.l4lb.netty.echo.EchoServer;
import dev.l4lb.netty.testing.MockApi;
import dev.l4lb.netty.testing.Ports;
import dev.l4lb.netty.testing.RawHttp;

/**
 * {@code lb kube --kubeconfig FILE} as an operator runs it, against fabric8's mock API server in
 * CRUD mode: a Service and its EndpointSlice created through the API are served by the process
 * on the node port, and SIGTERM stops it.
 */
class KubeProcessIT {
    private static final Path JAR = Path.of(System.getProperty("l4lb.jar", "target/l4lb.jar"));

    @Test
    void lbKubeServesWhatTheApiServerHas(@TempDir Path dir) throws Exception {
        assertThat(JAR).as("the shaded jar built by package").exists();
        KubernetesMockServer server = new KubernetesMockServer(new Context(), new MockWebServer(), new HashMap<>(),
                new KubernetesCrudDispatcher(), false);
        server.init(InetAddress.getLoopbackAddress(), 0);
        Path kubeconfig = dir.resolve("kubeconfig");
        Files.writeString(kubeconfig, """
                apiVersion: v1
                kind: Config
                clusters: [{name: mock, cluster: {server: "http://127.0.0.1:%d"}}]
                users: [{name: tester, user: {token: not-checked}}]
                contexts: [{name: mock, context: {cluster: mock, user: tester, namespace: default}}]
                current-context: mock
                """.formatted(server.getPort()));
        int podPort = Ports.free();
        int nodePort = Ports.free();
        try (KubernetesClient api = server.createClient();
             EchoServer pod = EchoServer.start(List.of(new InetSocketAddress(Addresses.parseIp("127.0.0.11").orElseThrow(), podPort)),
                     Transport.NIO, 1)) {
            Process lb = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-jar",
                    JAR.toString(), "kube", "--kubeconfig", kubeconfig.toString(), "--node-name", "node-a",
                    "--nodeport-addresses", "127.0.0.1/32", "--bind-address", "127.0.0.1",
                    "--metrics-bind-address", Addresses.format(Ports.loopback(Ports.free())),
                    "--healthz-bind-address", Addresses.format(Ports.loopback(Ports.free())),
                    "--min-sync-period", "100ms", "--shutdown-grace", "0s")
                    .redirectErrorStream(true)
                    .redirectOutput(dir.resolve("lb.log").toFile())
                    .start();
            try {
                await().atMost(Duration.ofSeconds(60)).until(() -> Files.readString(dir.resolve("lb.log")).contains("in sync"));

                api.services().inNamespace("shop").resource(new ServiceBuilder()
                        .withNewMetadata().withName("web").withNamespace("shop").endMetadata()
                        .withNewSpec().withType("NodePort").withClusterIP("10.96.0.30")
                        .addNewPort().withName("http").withPort(80).withNodePort(nodePort).endPort().endSpec().build()).create();
                api.discovery().v1().endpointSlices().inNamespace("shop").resource(new EndpointSliceBuilder()
                        .withNewMetadata().withName("web-1").withNamespace("shop")
                        .withLabels(Map.of("kubernetes.io/service-name", "web")).endMetadata()
                        .withAddressType("IPv4").addNewPort().withName("http").withPort(podPort).endPort()
                        .addNewEndpoint().withAddresses("127.0.0.11").withNodeName("node-b").endEndpoint().build()).create();

                await().atMost(Duration.ofSeconds(20)).ignoreExceptions().untilAsserted(() ->
                        assertThat(RawHttp.backendOf(RawHttp.get(Ports.loopback(nodePort), "/")))
                                .isEqualTo("127.0.0.11:" + podPort));
            } finally {
                lb.destroy();
                assertThat(lb.waitFor(30, TimeUnit.SECONDS)).as("lb exits after SIGTERM").isTrue();
                MockApi.stop(server);
            }
            String log = Files.readString(dir.resolve("lb.log"));
            assertThat(log).contains("userspace proxier for node node-a in sync", "1 service(s) added");
            assertThat(log).doesNotContain("Exception");
        }
    }
}

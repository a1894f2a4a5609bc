package dev.l4lb.netty.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.l4lb.core.model.Addresses;
import dev.l4lb.netty.transport.Transport;
import dev.l4lb.netty.echo.EchoServer;
import dev.l4lb.netty.testing.AdminHttp;
import dev.l4lb.netty.testing.Ports;
import dev.l4lb.netty.testing.RawHttp;

/**
 * {@code lb run --manifests} on the nginx examples the repository ships (config/kube): the
 * ClusterIP Service spreads over both pods, the ClientIP one keeps a client on one pod, the
 * NodePort with externalTrafficPolicy Local answers a client from outside only from this node's
 * pod (a client on the node itself or in --cluster-cidr from both); SIGHUP reads the files again, and a broken file is
 * rejected while the old objects serve on.
 */
class ManifestsProcessIT {
    private static final Path JAR = Path.of(System.getProperty("l4lb.jar", "target/l4lb.jar"));
    private static final Path EXAMPLE = Path.of("..", "config", "kube", "nginx.yaml");
    /** A client that is not one of the node's addresses (127.0.0.1 is): traffic from outside the cluster. */
    private static final java.net.InetAddress OUTSIDE = Addresses.parseIp("127.0.0.200").orElseThrow();

    @Test
    void theNginxExamplesAreServedAsKubeProxyWouldServeThem(@TempDir Path dir) throws Exception {
        assertThat(JAR).as("the shaded jar built by package").exists();
        int podPort = Ports.free();
        int nodePort = Ports.free();
        int firstProxyPort = Ports.freeBlock(4);
        // The example as it is, with ports this machine has free (8080 and 30080 may be taken on a CI host).
        String manifest = Files.readString(EXAMPLE).replace("port: 8080", "port: " + podPort)
                .replace("nodePort: 30080", "nodePort: " + nodePort);
        Path manifests = Files.createDirectory(dir.resolve("manifests"));
        Files.writeString(manifests.resolve("nginx.yaml"), manifest);
        InetSocketAddress health = Ports.loopback(Ports.free());

        try (EchoServer pods = EchoServer.start(List.of(pod(11, podPort), pod(12, podPort)), Transport.NIO, 1)) {
            Process lb = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-jar",
                    JAR.toString(), "run", "--manifests", manifests.toString(), "--node-name", "node-a",
                    "--bind-address", "127.0.0.1", "--proxy-port-range", firstProxyPort + "+3",
                    "--nodeport-addresses", "127.0.0.1/32", "--cluster-cidr", "127.0.0.64/26",
                    "--metrics-bind-address", Addresses.format(Ports.loopback(Ports.free())),
                    "--healthz-bind-address", Addresses.format(health), "--shutdown-grace", "0s")
                    .redirectErrorStream(true)
                    .redirectOutput(dir.resolve("lb.log").toFile())
                    .start();
            try {
                await().atMost(Duration.ofSeconds(60)).until(() -> Files.readString(dir.resolve("lb.log")).contains("in sync"));
                // Proxy ports go to the services in name order: my-nginx, my-nginx-sticky, nodeport-local.
                assertThat(answers(Ports.loopback(firstProxyPort))).containsExactlyInAnyOrder("127.0.0.11", "127.0.0.12");
                assertThat(answers(Ports.loopback(firstProxyPort + 1))).hasSize(1);
                InetSocketAddress nodePortAddress = Ports.loopback(nodePort);
                assertThat(answers(nodePortAddress, OUTSIDE)).containsExactly("127.0.0.11");
                assertThat(answers(nodePortAddress, null)).as("from the node itself").containsExactlyInAnyOrder("127.0.0.11", "127.0.0.12");
                assertThat(answers(nodePortAddress, Addresses.parseIp("127.0.0.70").orElseThrow())).as("from a pod in --cluster-cidr")
                        .containsExactlyInAnyOrder("127.0.0.11", "127.0.0.12");
                assertThat(answers(Ports.loopback(firstProxyPort + 2))).containsExactlyInAnyOrder("127.0.0.11", "127.0.0.12");
                HttpResponse<String> healthz = AdminHttp.get(health, "/healthz");
                assertThat(healthz.statusCode()).isEqualTo(200);
                assertThat(AdminHttp.json(healthz).path("healthy").asBoolean()).isTrue();

                // node-a's pod leaves the NodePort's slice: its node port now drops connections (no local endpoint).
                int slice = manifest.indexOf("name: nodeport-local-gh56");
                String withoutLocalPod = manifest.substring(0, slice) + manifest.substring(slice)
                        .replace("  - addresses: [\"127.0.0.11\"]\n    nodeName: node-a\n", "");
                assertThat(withoutLocalPod).hasSize(manifest.length() - "  - addresses: [\"127.0.0.11\"]\n    nodeName: node-a\n".length());
                Files.writeString(manifests.resolve("nginx.yaml"), withoutLocalPod);
                signal(lb, "HUP");
                await().atMost(Duration.ofSeconds(20)).until(() -> answers(nodePortAddress, OUTSIDE).equals(Set.of("dropped")));

                Files.writeString(manifests.resolve("broken.yaml"), "apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec: {ports: [{port: 0}]}\n");
                signal(lb, "HUP");
                await().atMost(Duration.ofSeconds(20)).until(() -> Files.readString(dir.resolve("lb.log")).contains("manifests rejected"));
                assertThat(answers(Ports.loopback(firstProxyPort))).containsExactlyInAnyOrder("127.0.0.11", "127.0.0.12");
            } finally {
                lb.destroy();
                assertThat(lb.waitFor(30, TimeUnit.SECONDS)).as("lb exits after SIGTERM").isTrue();
            }
            String log = Files.readString(dir.resolve("lb.log"));
            assertThat(log).contains("broken.yaml: document 1 (Service x) spec.ports[0].port: must be 1..65535: 0");
            assertThat(log).doesNotContain("Exception");
        }
    }

    private static InetSocketAddress pod(int octet, int port) {
        return new InetSocketAddress(Addresses.parseIp("127.0.0." + octet).orElseThrow(), port);
    }

    /** The pods that answer 8 new connections; "dropped" when accepted and ended, "refused" when nothing listens. */
    private static Set<String> answers(InetSocketAddress address) throws IOException {
        return answers(address, null);
    }

    /** {@link #answers(InetSocketAddress)} for a client at {@code from} (any address when null). */
    private static Set<String> answers(InetSocketAddress address, java.net.InetAddress from) throws IOException {
        Set<String> seen = new HashSet<>();
        for (int i = 0; i < 8; i++) {
            String response;
            try {
                response = RawHttp.get(address, "/", from);
            } catch (java.net.ConnectException nothingListens) {
                seen.add("refused");
                continue;
            } catch (java.net.SocketException reset) {
                response = "";
            }
            seen.add(response.isEmpty() ? "dropped" : RawHttp.backendOf(response).replaceAll(":\\d+$", ""));
        }
        return seen;
    }

    private static void signal(Process process, String signal) throws Exception {
        Process kill = new ProcessBuilder("kill", "-" + signal, Long.toString(process.pid())).inheritIO().start();
        assertThat(kill.waitFor(10, TimeUnit.SECONDS) && kill.exitValue() == 0).as("kill -" + signal).isTrue();
    }
}

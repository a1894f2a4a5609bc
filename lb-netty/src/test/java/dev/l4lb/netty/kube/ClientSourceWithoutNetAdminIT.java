package dev.l4lb.netty.kube;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;

import dev.l4lb.core.model.Addresses;
import dev.l4lb.netty.testing.AdminHttp;
import dev.l4lb.netty.testing.HostCommands;
import dev.l4lb.netty.testing.Ports;
import dev.l4lb.netty.testing.TwoNodeLab;

/**
 * {@code lb run --manifests --iptables} as root but without CAP_NET_ADMIN (dropped by setpriv,
 * as a container without that capability runs it): no portals and no reply path can be set, so
 * a Local node port's pod sees the node's address, which the log and {@code /api/v1/services}
 * say, once, with why; nothing is left in iptables.
 */
class ClientSourceWithoutNetAdminIT {
    private static final Path JAR = Path.of(System.getProperty("l4lb.jar", "target/l4lb.jar"));

    @Test
    void withoutNetAdminPodsSeeTheNodeAndTheBalancerSaysWhy(@TempDir Path dir) throws Exception {
        assertThat(JAR).as("the shaded jar built by package").exists();
        try (TwoNodeLab lab = TwoNodeLab.start()) {
            int nodePort = Ports.free();
            Path manifest = dir.resolve("web.yaml");
            Files.writeString(manifest, """
                    apiVersion: v1
                    kind: Service
                    metadata: {name: web, namespace: lab}
                    spec:
                      type: NodePort
                      clusterIP: 10.96.216.10
                      externalTrafficPolicy: Local
                      ports: [{name: http, port: 80, targetPort: 8080, nodePort: %d}]
                    """.formatted(nodePort) + KubeFixtures.onePodSlice("lab", "web", "http", "TCP",
                    new InetSocketAddress(lab.podA, TwoNodeLab.POD_PORT), "node-a"));
            InetSocketAddress metrics = Ports.loopback(Ports.free());
            Path log = dir.resolve("lb.log");
            Process lb = new ProcessBuilder(HostCommands.tool("setpriv"), "--bounding-set=-net_admin", "--inh-caps=-net_admin",
                    "--", Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-jar", JAR.toString(),
                    "run", "--manifests", manifest.toString(), "--iptables", "--node-name", "node-a",
                    "--nodeport-addresses", lab.nodeA.getHostAddress() + "/32", "--cluster-cidr", lab.clusterCidr,
                    "--metrics-bind-address", Addresses.format(metrics),
                    "--healthz-bind-address", Addresses.format(Ports.loopback(Ports.free())), "--shutdown-grace", "0s")
                    .redirectErrorStream(true).redirectOutput(log.toFile()).start();
            try {
                await().atMost(Duration.ofSeconds(60)).until(() -> !lb.isAlive() || Files.readString(log).contains("in sync"));
                assertThat(lb.isAlive()).as("lb runs; its log:\n%s", Files.readString(log)).isTrue();

                assertThat(lab.ask(lab.outsideNs, lab.nodeA, nodePort)).isEqualTo(lab.nodeAToPodA.getHostAddress());

                String said = Files.readString(log);
                assertThat(said).containsOnlyOnce("pods see this node's address, not their clients'");
                JsonNode external = port(metrics, "http/external");
                assertThat(external.at("/upstreamSource/mode").asText()).isEqualTo("client");
                assertThat(external.at("/upstreamSource/offIpv4").asText()).startsWith("iptables: ").contains("ermission");
                assertThat(HostCommands.output("iptables-save")).doesNotContain("L4LB", "KUBE-PORTALS");
            } finally {
                lb.destroy();
                lb.waitFor(10, TimeUnit.SECONDS);
                lb.destroyForcibly();
            }
        }
    }

    private static JsonNode port(InetSocketAddress admin, String name) {
        for (JsonNode port : AdminHttp.json(AdminHttp.get(admin, "/api/v1/services")).get("services")) {
            if (port.get("port").asText().equals(name)) {
                return port;
            }
        }
        throw new AssertionError("no port " + name);
    }
}

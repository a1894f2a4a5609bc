package dev.l4lb.core.kube;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.l4lb.core.config.ConfigException;
import dev.l4lb.core.config.ConfigProblem;

class KubeManifestsTest {
    /** The example manifests the repository ships (config/kube), as users start from them. */
    private static final Path EXAMPLES = Path.of("..", "config", "kube");

    @Test
    void theNginxExamplesReadAsKubectlWouldTakeThem() throws ConfigException {
        ClusterObjects objects = KubeManifests.load(List.of(EXAMPLES));

        assertThat(objects.services()).extracting(s -> s.getMetadata().getName())
                .containsExactly("my-nginx", "my-nginx-sticky", "nodeport-local");
        assertThat(objects.slices()).extracting(ClusterServices::serviceOf)
                .containsExactly("default/my-nginx", "default/my-nginx-sticky", "default/nodeport-local");
        Service sticky = objects.services().get(1);
        assertThat(sticky.getSpec().getSessionAffinityConfig().getClientIP().getTimeoutSeconds()).isEqualTo(60);
        assertThat(sticky.getSpec().getPorts().get(0).getTargetPort().getIntVal()).isEqualTo(80);
        assertThat(objects.services().get(2).getSpec().getExternalTrafficPolicy()).isEqualTo("Local");
    }

    @Test
    void everyProblemNamesTheFileTheDocumentAndTheField() {
        String yaml = """
                apiVersion: v1
                kind: Service
                metadata: {name: web}
                spec:
                  ports: [{port: 70000}, {name: b, port: 80, protocol: QUIC}]
                ---
                apiVersion: v1
                kind: Service
                metadata: {name: typed}
                spec:
                  ports: [{port: [1, 2]}]
                ---
                apiVersion: discovery.k8s.io/v1beta1
                kind: EndpointSlice
                metadata: {name: old}
                ---
                apiVersion: discovery.k8s.io/v1
                kind: EndpointSlice
                metadata: {name: orphan}
                addressType: IPv4
                endpoints: [{addresses: [10.0.0.300]}]
                ports: [{port: 0}]
                ---
                metadata: {name: kindless}
                """;

        assertThatThrownBy(() -> KubeManifests.parse("app.yaml", yaml))
                .isInstanceOfSatisfying(ConfigException.class, e -> assertThat(e.problems()).extracting(ConfigProblem::toString)
                        .containsExactly(
                                "app.yaml: document 1 (Service web) spec.ports[0].port: must be 1..65535: 70000",
                                "app.yaml: document 1 (Service web) spec.ports[0].name: is required when a Service has more than one port",
                                "app.yaml: document 1 (Service web) spec.ports[1].protocol: is QUIC; expected one of [SCTP, TCP, UDP]",
                                "app.yaml: document 2 (Service typed) spec.ports[0].port: "
                                        + e.problems().get(3).message(),
                                "app.yaml: document 3 (EndpointSlice old) apiVersion: is discovery.k8s.io/v1beta1; expected discovery.k8s.io/v1",
                                "app.yaml: document 4 (EndpointSlice orphan) metadata.labels: needs kubernetes.io/service-name: "
                                        + "the name of the Service this slice belongs to",
                                "app.yaml: document 4 (EndpointSlice orphan) endpoints[0].addresses[0]: is not an IP address: 10.0.0.300",
                                "app.yaml: document 4 (EndpointSlice orphan) ports[0].port: must be 1..65535: 0",
                                "app.yaml: document 5 (? kindless) kind: is missing"));
        // The message of a value of the wrong type is Jackson's; it must say what it wanted.
        assertThatThrownBy(() -> KubeManifests.parse("app.yaml", yaml))
                .isInstanceOfSatisfying(ConfigException.class, e -> assertThat(e.problems().get(3).message())
                        .containsIgnoringCase("int"));
    }

    /** As the API server refuses them: two ports with one name, or one number and protocol twice. */
    @Test
    void duplicatePortNamesAndNumbersAreRefused() {
        assertThatThrownBy(() -> KubeManifests.parse("dup.yaml", """
                apiVersion: v1
                kind: Service
                metadata: {name: web}
                spec:
                  ports: [{name: http, port: 80}, {name: http, port: 8080}, {name: dns, port: 80, protocol: UDP},
                          {name: alt, port: 80, protocol: TCP}]
                """))
                .isInstanceOfSatisfying(ConfigException.class, e -> assertThat(e.problems()).extracting(ConfigProblem::toString)
                        .containsExactly(
                                "dup.yaml: document 1 (Service web) spec.ports[1].name: duplicate port name http (also spec.ports[0])",
                                "dup.yaml: document 1 (Service web) spec.ports[3]: duplicate port 80/TCP (also spec.ports[0])"));
    }

    @Test
    void aNullListEntryIsAProblemNotACrash() {
        // A Service with "ports: [null]" made the reader throw a NullPointerException; found by ConfigFuzzTest.
        assertThatThrownBy(() -> KubeManifests.parse("null.yaml", """
                apiVersion: v1
                kind: Service
                metadata: {name: web}
                spec:
                  clusterIP: 10.96.0.10
                  ports: [{port: 80}, null]
                  externalIPs: [null]
                """))
                .isInstanceOfSatisfying(ConfigException.class, e -> assertThat(e.problems()).extracting(ConfigProblem::toString)
                        .containsExactly(
                                "null.yaml: document 1 (Service web) spec.ports[1]: is null: a list entry must have a value",
                                "null.yaml: document 1 (Service web) spec.externalIPs[0]: is null: a list entry must have a value"));
    }

    @Test
    void yamlThatDoesNotParseNamesTheDocumentAndLine() {
        assertThatThrownBy(() -> KubeManifests.parse("bad.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: fine}\n---\nmetadata: {name: [\n"))
                .isInstanceOfSatisfying(ConfigException.class, e -> {
                    assertThat(e.problems()).hasSize(1);
                    assertThat(e.problems().get(0).toString()).isEqualTo("bad.yaml: document 2: not valid YAML: while parsing a flow node; "
                            + "expected the node content, but found '<stream end>' (line 5)");
                });
    }

    @Test
    void aManifestThatIsNotUtf8NamesTheLineAndTheBytes(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("svc.yaml");
        Files.write(file, new byte[] {'k', 'i', 'n', 'd', ':', ' ', 'S', '\n', 'x', (byte) 0xC3, '(', '\n'});
        assertThatThrownBy(() -> KubeManifests.load(List.of(file)))
                .isInstanceOfSatisfying(ConfigException.class, e -> assertThat(e.problems()).containsExactly(
                        new ConfigProblem(file.toString(), "line 2, byte 2", "not UTF-8 (0xC3): save the file as UTF-8")));
    }

    @Test
    void listsJsonAndDirectoriesAreReadAndOtherKindsPassedOver(@TempDir Path dir) throws IOException, ConfigException {
        Files.writeString(dir.resolve("a.yaml"), """
                apiVersion: v1
                kind: List
                items:
                  - apiVersion: v1
                    kind: Service
                    metadata: {name: one, namespace: ns}
                    spec: {clusterIP: 10.96.0.1, ports: [{port: 80}]}
                  - apiVersion: v1
                    kind: ConfigMap
                    metadata: {name: settings}
                """);
        Files.writeString(dir.resolve("b.json"), """
                {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "two"}, "spec": {"ports": [{"port": 81}]}}
                """);
        Files.writeString(dir.resolve("notes.txt"), "not a manifest");

        ClusterObjects objects = KubeManifests.load(List.of(dir));

        assertThat(objects.services()).extracting(s -> s.getMetadata().getName()).containsExactly("one", "two");
    }

    @Test
    void v1EndpointsBecomeSlicesWithNotReadyAddressesNotReady() throws ConfigException {
        ClusterObjects objects = KubeManifests.parse("ep.yaml", """
                apiVersion: v1
                kind: Endpoints
                metadata: {name: legacy, namespace: ns}
                subsets:
                  - addresses: [{ip: 10.0.0.1, nodeName: node-a}, {ip: "fd00::1"}]
                    notReadyAddresses: [{ip: 10.0.0.2}]
                    ports: [{name: http, port: 8080, protocol: TCP}]
                """);

        assertThat(objects.slices()).extracting(EndpointSlice::getAddressType).containsExactly("IPv4", "IPv6");
        EndpointSlice v4 = objects.slices().get(0);
        assertThat(ClusterServices.serviceOf(v4)).isEqualTo("ns/legacy");
        assertThat(v4.getEndpoints()).extracting(e -> e.getAddresses().get(0) + " " + e.getNodeName() + " " + e.getConditions().getReady())
                .containsExactly("10.0.0.1 node-a true", "10.0.0.2 null false");
        assertThat(v4.getPorts().get(0).getPort()).isEqualTo(8080);
    }

    @Test
    void anObjectGivenTwiceAndBadAddressesAreProblems() {
        String service = """
                apiVersion: v1
                kind: Service
                metadata: {name: web}
                spec:
                  clusterIPs: [10.96.0.1, not-an-ip]
                  loadBalancerSourceRanges: [10.0.0.0/33]
                  ports: [{port: 80}]
                status: {loadBalancer: {ingress: [{ip: 1.2.3}]}}
                """;
        assertThatThrownBy(() -> KubeManifests.parse("twice.yaml", service + "---\n" + service))
                .isInstanceOfSatisfying(ConfigException.class, e -> assertThat(e.problems()).extracting(ConfigProblem::toString)
                        .containsExactly(
                                "twice.yaml: document 1 (Service web) spec.clusterIPs[1]: is not an IP address: not-an-ip",
                                "twice.yaml: document 1 (Service web) spec.loadBalancerSourceRanges[0]: is not a CIDR such as 203.0.113.0/24: 10.0.0.0/33",
                                "twice.yaml: document 1 (Service web) status.loadBalancer.ingress[0].ip: is not an IP address: 1.2.3",
                                "twice.yaml: document 2 (Service web) metadata.name: is Service default/web again; "
                                        + "the first is at twice.yaml: document 1 (Service web)",
                                "twice.yaml: document 2 (Service web) spec.clusterIPs[1]: is not an IP address: not-an-ip",
                                "twice.yaml: document 2 (Service web) spec.loadBalancerSourceRanges[0]: is not a CIDR such as 203.0.113.0/24: 10.0.0.0/33",
                                "twice.yaml: document 2 (Service web) status.loadBalancer.ingress[0].ip: is not an IP address: 1.2.3"));
    }

    @Test
    void aMissingFileIsAProblemNotACrash() {
        assertThatThrownBy(() -> KubeManifests.load(List.of(Path.of("does-not-exist.yaml"))))
                .isInstanceOfSatisfying(ConfigException.class, e -> assertThat(e.problems().get(0).toString())
                        .startsWith("does-not-exist.yaml: cannot read: "));
    }
}

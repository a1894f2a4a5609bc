package dev.l4lb.netty.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.ServiceAccount;
import io.fabric8.kubernetes.api.model.apps.DaemonSet;
import io.fabric8.kubernetes.api.model.rbac.ClusterRole;
import io.fabric8.kubernetes.api.model.rbac.ClusterRoleBinding;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

import dev.l4lb.netty.kube.ProxierRuntime;

/**
 * The manifests of config/kube/deploy read as the API server would take them, fit together (names,
 * namespace, ConfigMap keys), run the image the Dockerfile builds, and pass lb kube only flags
 * it accepts, with values it accepts.
 */
class DeployManifestsTest {
    private static final Path ROOT = Path.of("..");
    private static final Path DEPLOY = ROOT.resolve("config/kube/deploy");
    private static final Map<String, Class<? extends HasMetadata>> KINDS = Map.of(
            "serviceaccount.yaml", ServiceAccount.class,
            "clusterrole.yaml", ClusterRole.class,
            "clusterrolebinding.yaml", ClusterRoleBinding.class,
            "configmap.yaml", ConfigMap.class,
            "daemonset.yaml", DaemonSet.class);
    /** What the downward API gives NODE_NAME in this test. */
    private static final String NODE = "node-a";

    private final KubernetesSerialization serialization = new KubernetesSerialization();

    @Test
    @SuppressWarnings("unchecked")
    void everyManifestIsItsKindAndKustomizationListsThemAll() throws IOException {
        List<String> files;
        try (Stream<Path> listed = Files.list(DEPLOY)) {
            files = listed.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".yaml")).sorted().toList();
        }
        List<String> expected = new ArrayList<>(KINDS.keySet());
        expected.add("kustomization.yaml");
        assertThat(files).containsExactlyInAnyOrderElementsOf(expected);

        for (var kind : KINDS.entrySet()) {
            HasMetadata object = read(kind.getKey());
            assertThat(object).as(kind.getKey()).isInstanceOf(kind.getValue());
            // fabric8 keeps fields the API does not know instead of refusing them, as the API server would.
            assertThat(object.getMetadata().getAdditionalProperties()).as(kind.getKey() + " metadata").isEmpty();
            if (object instanceof ClusterRole || object instanceof ClusterRoleBinding) {
                assertThat(object.getMetadata().getNamespace()).as(kind.getKey()).isNull();
            } else {
                assertThat(object.getMetadata().getNamespace()).as(kind.getKey()).isEqualTo("kube-system");
            }
        }
        GenericKubernetesResource kustomization = read("kustomization.yaml");
        assertThat(kustomization.getKind()).isEqualTo("Kustomization");
        assertThat(kustomization.getAdditionalProperties()).containsEntry("namespace", "kube-system");
        assertThat((List<Object>) kustomization.getAdditionalProperties().get("resources"))
                .containsExactlyInAnyOrderElementsOf(KINDS.keySet());
    }

    @Test
    void theDaemonSetRunsAsTheBoundServiceAccountWithNetAdminAndNetRawOnly() throws IOException {
        ServiceAccount account = read("serviceaccount.yaml");
        ClusterRole role = read("clusterrole.yaml");
        ClusterRoleBinding binding = read("clusterrolebinding.yaml");
        DaemonSet daemonSet = read("daemonset.yaml");
        PodSpec pod = daemonSet.getSpec().getTemplate().getSpec();

        assertThat(binding.getRoleRef().getKind()).isEqualTo("ClusterRole");
        assertThat(binding.getRoleRef().getName()).isEqualTo(role.getMetadata().getName());
        assertThat(binding.getSubjects()).singleElement().satisfies(subject -> {
            assertThat(subject.getKind()).isEqualTo("ServiceAccount");
            assertThat(subject.getName()).isEqualTo(account.getMetadata().getName());
            assertThat(subject.getNamespace()).isEqualTo(account.getMetadata().getNamespace());
        });
        assertThat(pod.getServiceAccountName()).isEqualTo(account.getMetadata().getName());
        assertThat(daemonSet.getSpec().getSelector().getMatchLabels())
                .isEqualTo(daemonSet.getSpec().getTemplate().getMetadata().getLabels());

        assertThat(pod.getHostNetwork()).isTrue();
        assertThat(pod.getDnsPolicy()).isEqualTo("ClusterFirstWithHostNet");
        assertThat(pod.getPriorityClassName()).isEqualTo("system-node-critical");
        assertThat(pod.getTolerations()).singleElement().satisfies(t -> {
            assertThat(t.getOperator()).isEqualTo("Exists");
            assertThat(t.getKey()).isNull();
            assertThat(t.getEffect()).isNull();
        });
        Container container = pod.getContainers().get(0);
        assertThat(pod.getContainers()).hasSize(1);
        var security = container.getSecurityContext();
        assertThat(security.getPrivileged()).isFalse();
        assertThat(security.getAllowPrivilegeEscalation()).isFalse();
        assertThat(security.getCapabilities().getDrop()).containsExactly("ALL");
        assertThat(security.getCapabilities().getAdd()).containsExactlyInAnyOrder("NET_ADMIN", "NET_RAW");
        assertThat(container.getResources().getRequests()).containsKeys("cpu", "memory");
    }

    @Test
    void theDaemonSetsArgsAreFlagsLbKubeAcceptsAndItsProbesHitTheHealthzServer() throws IOException {
        ConfigMap flags = read("configmap.yaml");
        DaemonSet daemonSet = read("daemonset.yaml");
        Container container = daemonSet.getSpec().getTemplate().getSpec().getContainers().get(0);

        assertThat(container.getCommand()).as("the image's entrypoint runs the jar").isNullOrEmpty();
        List<String> args = expand(container.getArgs(), environment(container, flags));
        assertThat(args.get(0)).isEqualTo("kube");

        CommandLine.ParseResult parsed = Main.commandLine().parseArgs(args.toArray(String[]::new));
        assertThat(parsed.subcommand().commandSpec().name()).isEqualTo("kube");
        KubeCommand kube = (KubeCommand) parsed.subcommand().commandSpec().userObject();
        ProxierRuntime.Settings settings = kube.proxier.settings();
        assertThat(settings.node().nodeName()).isEqualTo(NODE);
        assertThat(settings.portals()).isEqualTo(ProxierRuntime.Portals.REDIRECT);
        assertThat(kube.cleanup).isFalse();
        assertThat(kube.master).as("the API server's own address: ClusterIPs need the proxier")
                .isEqualTo(flags.getData().get("API_SERVER")).startsWith("https://").doesNotContain("kubernetes.default");

        int healthzPort = kube.proxier.admin().healthz().getPort();
        assertThat(container.getLivenessProbe().getHttpGet().getPath()).isEqualTo("/livez");
        assertThat(container.getLivenessProbe().getHttpGet().getPort().getIntVal()).isEqualTo(healthzPort);
        assertThat(container.getReadinessProbe().getHttpGet().getPath()).isEqualTo("/healthz");
        assertThat(container.getReadinessProbe().getHttpGet().getPort().getIntVal()).isEqualTo(healthzPort);
        assertThat(kube.proxier.admin().healthz().getAddress().isAnyLocalAddress())
                .as("the kubelet probes the node's address").isTrue();
    }

    @Test
    void theDaemonSetRunsTheImageTheDockerfileBuildsFromTheShadedJar() throws IOException {
        String pom = Files.readString(ROOT.resolve("pom.xml"));
        Matcher version = Pattern.compile("<artifactId>l4lb-parent</artifactId>\\s*<version>([^<]+)</version>").matcher(pom);
        assertThat(version.find()).as("the parent pom's version").isTrue();
        String release = version.group(1).replace("-SNAPSHOT", "");
        DaemonSet daemonSet = read("daemonset.yaml");
        assertThat(daemonSet.getSpec().getTemplate().getSpec().getContainers().get(0).getImage()).isEqualTo("l4lb:" + release);

        String dockerfile = Files.readString(ROOT.resolve("Dockerfile"));
        assertThat(dockerfile).contains("docker build -t l4lb:" + release + " .")
                .contains("org.opencontainers.image.version=\"" + release + "\"")
                .containsPattern("(?m)^FROM eclipse-temurin:17-jre$")
                .containsPattern("(?m)^COPY lb-netty/target/l4lb.jar /opt/l4lb/l4lb.jar$")
                .containsPattern("(?m)^ENTRYPOINT \\[\"java\", .*\"-jar\", \"/opt/l4lb/l4lb.jar\"\\]$");
        assertThat(Files.readString(ROOT.resolve("lb-netty/pom.xml"))).as("the shaded jar is target/l4lb.jar")
                .contains("<finalName>l4lb</finalName>");
        Matcher user = Pattern.compile("(?m)^USER (\\S+)$").matcher(dockerfile);
        assertThat(user.find()).as("a USER line").isTrue();
        assertThat(user.group(1)).isNotIn("root", "0");
    }

    private <T> T read(String file) throws IOException {
        try (InputStream in = Files.newInputStream(DEPLOY.resolve(file))) {
            return serialization.unmarshal(in);
        }
    }

    /** The container's environment as the kubelet makes it: ConfigMap keys (which must exist) and the node's name. */
    private static Map<String, String> environment(Container container, ConfigMap flags) {
        return container.getEnv().stream().collect(Collectors.toMap(EnvVar::getName, env -> {
            if (env.getValue() != null) {
                return env.getValue();
            }
            var from = env.getValueFrom();
            if (from.getFieldRef() != null) {
                assertThat(from.getFieldRef().getFieldPath()).as(env.getName()).isEqualTo("spec.nodeName");
                return NODE;
            }
            var key = from.getConfigMapKeyRef();
            assertThat(key).as("where %s comes from", env.getName()).isNotNull();
            assertThat(key.getName()).isEqualTo(flags.getMetadata().getName());
            assertThat(flags.getData()).as("ConfigMap %s", key.getName()).containsKey(key.getKey());
            return flags.getData().get(key.getKey());
        }));
    }

    /** $(NAME) in args, as the kubelet expands it; a name the environment lacks is a mistake here. */
    private static List<String> expand(List<String> args, Map<String, String> env) {
        Pattern reference = Pattern.compile("\\$\\(([A-Za-z_][A-Za-z0-9_]*)\\)");
        List<String> out = new ArrayList<>();
        for (String arg : args) {
            Matcher m = reference.matcher(arg);
            StringBuilder expanded = new StringBuilder();
            while (m.find()) {
                assertThat(env).as("the variable in %s", arg).containsKey(m.group(1));
                m.appendReplacement(expanded, Matcher.quoteReplacement(env.get(m.group(1))));
            }
            m.appendTail(expanded);
            out.add(expanded.toString());
        }
        return out;
    }
}

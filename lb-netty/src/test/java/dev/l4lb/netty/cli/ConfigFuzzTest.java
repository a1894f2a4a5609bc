package dev.l4lb.netty.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;

import tools.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import dev.l4lb.core.config.AdminConfig;
import dev.l4lb.core.config.ConfigException;
import dev.l4lb.core.config.ConfigLoader;
import dev.l4lb.core.config.ConfigProblem;
import dev.l4lb.core.kube.ClusterObjects;
import dev.l4lb.core.kube.ClusterServices;
import dev.l4lb.core.kube.KubeManifests;
import dev.l4lb.core.kube.NodeContext;
import dev.l4lb.core.kube.ProxyPortRange;
import dev.l4lb.core.model.Addresses;
import dev.l4lb.core.table.ServiceSnapshot;
import dev.l4lb.netty.Balancer;
import dev.l4lb.netty.ConfigReloader;
import dev.l4lb.netty.transport.Transport;
import dev.l4lb.netty.admin.AdminServer;
import dev.l4lb.netty.echo.EchoServer;
import dev.l4lb.netty.testing.AdminHttp;
import dev.l4lb.netty.testing.Closer;
import dev.l4lb.netty.testing.NoLeaks;
import dev.l4lb.netty.testing.Ports;
import dev.l4lb.netty.testing.Sockets;
import dev.l4lb.netty.testing.YamlMutator;

/**
 * Issue 15's config torture: a thousand seeded mutants of a config that uses every key go through
 * {@code lb check}, a thousand of the repository's Kubernetes manifests through the manifests
 * reader and the translation the proxier runs, and two hundred through {@code POST
 * /api/v1/reload} of a running balancer. Each must end in a verdict a user can act on: exit 0, or
 * exit 2 with one line per problem naming the file; never a stack trace or an exception's
 * message; and a rejected reload leaves the balancer serving exactly what it served.
 *
 * <p>{@code -Dl4lb.torture.configs=N -Dl4lb.torture.seed=S} sets the count and the seed.
 */
@ExtendWith(NoLeaks.class)
class ConfigFuzzTest {
    private static final int MUTANTS = Integer.getInteger("l4lb.torture.configs", 1_000);
    private static final int RELOADS = Math.max(1, MUTANTS / 5);
    private static final long SEED = Long.getLong("l4lb.torture.seed", 20261207L);
    private static final Path MANIFESTS = Path.of("..", "config", "kube", "nginx.yaml");

    @RegisterExtension
    final Closer toClose = new Closer();
    @TempDir
    Path dir;

    /** Every port key of the README's reference, on loopback, with an admin section. */
    private static String everyKey(InetSocketAddress listen, InetSocketAddress udp, List<InetSocketAddress> endpoints) {
        return """
                services:
                  - name: shop/web
                    ports:
                      - name: http
                        protocol: TCP
                        listen: ["%s"]
                        targetPort: 9000
                        scheduler: wrr
                        sessionAffinity: ClientIP
                        sessionAffinityTimeoutSeconds: 10800
                        sessionAffinityMaxEntries: 1000
                        proxyProtocol: none
                        sourceRanges: ["127.0.0.0/8", "::1/128"]
                        connectTimeout: 1s
                        idleTimeout: 5m
                        maxConnections: 10000
                        endpoints:
                          - "%s"
                          - {address: "%s", weight: 2, node: node-a, ready: true, maxConnections: 500}
                          - {address: "127.0.0.1", port: 9, ready: false, serving: true, terminating: true}
                      - name: pp
                        listen: ["127.0.0.1:1"]
                        scheduler: mh
                        proxyProtocol: v2
                        proxyProtocolUniqueId: true
                        acceptProxyProtocol: true
                        trustedUpstreams: ["10.0.0.0/24"]
                        acceptProxyProtocolTimeout: 3s
                        healthCheck:
                          type: tcp
                          interval: 2s
                          timeout: 1s
                          rise: 2
                          fall: 3
                          sendProxyProtocol: true
                          startDown: false
                        endpoints: ["%s"]
                  - name: dns
                    ports:
                      - protocol: UDP
                        listen: ["%s"]
                        healthCheck: {type: http, port: 9, path: /healthz, expectStatus: "200-399"}
                        outlierDetection:
                          consecutiveConnectFailures: 5
                          baseEjectionTime: 30s
                          maxEjectionTime: 300s
                          maxEjectionPercent: 50
                        failOpen: true
                        endpoints: ["127.0.0.1:53"]
                admin:
                  metrics: "127.0.0.1:0"
                  healthz: "127.0.0.1:0"
                """.formatted(Addresses.format(listen), Addresses.format(endpoints.get(0)), Addresses.format(endpoints.get(1)),
                Addresses.format(endpoints.get(0)), Addresses.format(udp));
    }

    @Test
    void mutatedConfigsEndInExitZeroOrOneLineProblemsThroughLbCheck() throws Exception {
        InetSocketAddress a = Ports.loopback(18080);
        String base = everyKey(a, Ports.loopback(18053), List.of(Ports.loopback(19001), Ports.loopback(19002)))
                .replace("127.0.0.1:1\"", "127.0.0.1:18081\"");
        Path file = dir.resolve("fuzzed.yaml");
        Files.writeString(file, base);
        assertThat(InProcessLb.run("check", "--config", file.toString()).status()).as("the base is valid").isZero();

        YamlMutator mutator = new YamlMutator(SEED);
        int valid = 0;
        int rejected = 0;
        for (int i = 0; i < MUTANTS; i++) {
            String mutant = mutator.mutate(base);
            Files.writeString(file, mutant);
            InProcessLb.Result result = InProcessLb.run("check", "--config", file.toString());
            String seen = "mutant " + i + ":\n" + mutant + "\n--- stdout:\n" + result.out() + "--- stderr:\n" + result.err();
            assertThat(result.status()).as(seen).isIn(ExitCodes.OK, ExitCodes.CONFIG_ERROR);
            assertNoTrace(result.err(), seen);
            if (result.status() == ExitCodes.OK) {
                valid++;
                assertThat(result.out()).as(seen).endsWith(file + ": OK\n");
                continue;
            }
            rejected++;
            List<String> lines = result.err().lines().toList();
            assertThat(lines.get(0)).as(seen).matches("l4lb: the config has \\d+ problem\\(s\\):");
            assertThat(lines).as(seen).hasSize(1 + Integer.parseInt(lines.get(0).replaceAll("^.* has (\\d+) problem.*$", "$1")));
            assertThat(lines.subList(1, lines.size())).as(seen).allSatisfy(line -> assertThat(line).startsWith("  " + file + ": "));
        }
        System.out.printf("config fuzz: %d mutants (seed %d) through lb check: %d valid, %d rejected with problems%n",
                MUTANTS, SEED, valid, rejected);
        assertThat(rejected).isPositive();
    }

    @Test
    void mutatedManifestsAreReadAndTranslatedOrRejectedWithProblems() throws Exception {
        String base = Files.readString(MANIFESTS);
        NodeContext node = new NodeContext("node-a", Set.of(InetAddress.getLoopbackAddress()), List.of(),
                InetAddress.getByName("0.0.0.0"), false);
        YamlMutator mutator = new YamlMutator(SEED + 1);
        int translated = 0;
        int rejected = 0;
        for (int i = 0; i < MUTANTS; i++) {
            String mutant = mutator.mutate(base);
            String seen = "mutant " + i + ":\n" + mutant;
            ClusterObjects objects;
            try {
                objects = KubeManifests.parse("nginx.yaml", mutant);
            } catch (ConfigException e) {
                rejected++;
                assertThat(e.problems()).as(seen).isNotEmpty().allSatisfy(p -> assertOneLine(p, "nginx.yaml", seen));
                continue;
            } catch (RuntimeException e) {
                throw new AssertionError("the manifests reader threw " + e + " on " + seen, e);
            }
            try {
                ClusterServices.translate(objects, node, new ProxyPortRange(30000, 30100));
                translated++;
            } catch (RuntimeException e) {
                throw new AssertionError("the proxier's translation threw " + e + " on " + seen, e);
            }
        }
        System.out.printf("manifest fuzz: %d mutants (seed %d): %d read and translated, %d rejected with problems%n",
                MUTANTS, SEED + 1, translated, rejected);
        assertThat(rejected).isPositive();
        assertThat(translated).isPositive();
    }

    @Test
    void aRejectedReloadLeavesTheRunningConfigAsItWas() throws Exception {
        EchoServer backends = toClose.add(EchoServer.start(List.of(Ports.loopback(0), Ports.loopback(0)),
                Transport.select("auto"), 1, false));
        InetSocketAddress listen = Ports.loopback(Ports.free());
        String base = everyKey(listen, Ports.freeUdp(), backends.addresses())
                .replace("127.0.0.1:1\"", Addresses.format(Ports.loopback(Ports.free())) + "\"");
        Path file = dir.resolve("l4lb.yaml");
        Files.writeString(file, base);
        Balancer balancer = toClose.add(Balancer.start(ConfigLoader.load(file), Transport.select("auto"), 1));
        AdminServer admin = toClose.add(AdminServer.start(new AdminConfig(Ports.loopback(0), Ports.loopback(0)), balancer,
                new ConfigReloader(file, balancer)));

        YamlMutator mutator = new YamlMutator(SEED + 2);
        int applied = 0;
        int rejected = 0;
        for (int i = 0; i < RELOADS; i++) {
            ServiceSnapshot before = balancer.snapshot();
            String mutant = mutator.mutate(base);
            Files.writeString(file, mutant);
            HttpResponse<String> answer = AdminHttp.post(admin.metricsAddress(), "/api/v1/reload");
            String seen = "mutant " + i + ":\n" + mutant + "\n--- answer:\n" + answer.body();
            JsonNode body = AdminHttp.json(answer);
            if (answer.statusCode() == 200) {
                applied++;
                assertThat(body.path("applied").asBoolean()).as(seen).isTrue();
                // Back to the base, which must apply again, so that each mutant starts from it.
                Files.writeString(file, base);
                assertThat(AdminHttp.post(admin.metricsAddress(), "/api/v1/reload").statusCode()).as(seen).isEqualTo(200);
                continue;
            }
            rejected++;
            assertThat(answer.statusCode()).as(seen).isEqualTo(422);
            assertThat(body.path("applied").asBoolean()).as(seen).isFalse();
            assertThat(body.path("errors")).as(seen).isNotEmpty();
            body.path("errors").forEach(error -> {
                assertThat(error.asText()).as(seen).doesNotContain("\n", "Exception", "please report it");
                assertThat(error.asText()).as(seen).startsWith(file.toString());
            });
            assertThat(balancer.snapshot()).as("the snapshot in force after " + seen).isSameAs(before);
        }
        try (Socket client = Sockets.connect(listen)) {
            Sockets.assertEchoes(client, "still the base config");
        }
        System.out.printf("reload fuzz: %d mutants (seed %d) through POST /api/v1/reload: %d applied, %d rejected,"
                + " the running config untouched by each%n", RELOADS, SEED + 2, applied, rejected);
        assertThat(rejected).isPositive();
    }

    /** No stack trace, and no object the reader's own checks failed on (its last-resort message). */
    private static void assertNoTrace(String err, String seen) {
        assertThat(err).as(seen).doesNotContain("Exception", "\tat ", "Caused by", "please report it");
    }

    private static void assertOneLine(ConfigProblem problem, String file, String seen) {
        assertThat(problem.file()).as(seen).isEqualTo(file);
        assertThat(problem.toString()).as(seen).doesNotContain("\n", "Exception", "please report it");
    }
}

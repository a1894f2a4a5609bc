package dev.l4lb.core.config;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import dev.l4lb.core.model.ServerNames;
import dev.l4lb.core.model.Service;

/** serverNames and clientHelloTimeout, read as users write them (issue #18: TLS passthrough by SNI). */
class ServerNamesConfigTest {
    private static final String FILE = "lb.yaml";

    /** The README's example: three services on one listener. */
    private static final String SHARED = """
            services:
              - name: shop/web
                ports:
                  - listen: ["0.0.0.0:443"]
                    serverNames: ["Shop.Example.", "*.shop.example"]
                    endpoints: ["10.0.0.11:8443"]
              - name: blog/web
                ports:
                  - listen: ["0.0.0.0:443"]
                    serverNames: ["blog.example"]
                    clientHelloTimeout: 5s
                    endpoints: ["10.0.0.21:8443"]
              - name: default/fallback
                ports:
                  - listen: ["0.0.0.0:443"]
                    serverNames: ["*"]
                    endpoints: ["10.0.0.31:8443"]
            """;

    @Test
    void portsWithServerNamesShareOneListenerAndNamesAreStoredLowercaseWithoutTrailingDot() throws Exception {
        List<Service> services = ConfigLoader.parse(FILE, SHARED).services();
        assertThat(services).hasSize(3);
        assertThat(services.get(0).ports().get(0).serverNames())
                .isEqualTo(new ServerNames(List.of("shop.example", "*.shop.example"), Duration.ofSeconds(5)));
        assertThat(services.get(2).ports().get(0).serverNames().names()).containsExactly("*");
        assertThat(services).allSatisfy(s -> assertThat(s.ports().get(0).listen()).hasSize(1));
    }

    @Test
    void aPortWithoutServerNamesIsNotRoutedByName() throws Exception {
        Service service = ConfigLoader.parse(FILE, onePort("listen: [\"127.0.0.1:443\"]")).services().get(0);
        assertThat(service.ports().get(0).serverNames()).isEqualTo(ServerNames.NONE);
        assertThat(ServerNames.NONE.routed()).isFalse();
    }

    @Test
    void aPortWithServerNamesAloneOnItsListenerIsFine() throws Exception {
        Service service = ConfigLoader.parse(FILE, onePort("listen: [\"127.0.0.1:443\"]",
                "serverNames: [\"a.example\"]", "clientHelloTimeout: 250ms")).services().get(0);
        assertThat(service.ports().get(0).serverNames())
                .isEqualTo(new ServerNames(List.of("a.example"), Duration.ofMillis(250)));
    }

    @Test
    void aReloadThatChangesOnlyServerNamesOrTheHelloTimeoutChangesThePort() throws Exception {
        List<Service> before = ConfigLoader.parse(FILE, SHARED).services();
        List<Service> renamed = ConfigLoader.parse(FILE, SHARED.replace("\"blog.example\"", "\"news.example\"")).services();
        assertThat(ConfigDiff.between(before, renamed).portsChanged()).containsExactly("blog/web/TCP");
        String slower = SHARED.replace("clientHelloTimeout: 5s", "clientHelloTimeout: 9s")
                .replace("        serverNames: [\"Shop.Example.\", \"*.shop.example\"]\n",
                        "        serverNames: [\"Shop.Example.\", \"*.shop.example\"]\n        clientHelloTimeout: 9s\n")
                .replace("        serverNames: [\"*\"]\n", "        serverNames: [\"*\"]\n        clientHelloTimeout: 9s\n");
        assertThat(ConfigDiff.between(before, ConfigLoader.parse(FILE, slower).services()).portsChanged())
                .containsExactly("shop/web/TCP", "blog/web/TCP", "default/fallback/TCP");
        assertThat(ConfigDiff.between(before, ConfigLoader.parse(FILE, SHARED).services()).isEmpty()).isTrue();
    }

    @Test
    void anOverlappingNameNamesBothPaths() {
        String yaml = SHARED.replace("serverNames: [\"blog.example\"]", "serverNames: [\"blog.example\", \"*.SHOP.example\"]");
        assertThat(problems(yaml)).singleElement().hasToString(
                "lb.yaml: services[1].ports[0].serverNames[1]: \"*.shop.example\" is also served by services[0].ports[0].serverNames[1]");
    }

    @Test
    void twoStarsOnOneListenerOverlap() {
        String yaml = SHARED.replace("serverNames: [\"blog.example\"]", "serverNames: [\"*\"]");
        assertThat(problems(yaml)).singleElement().hasToString(
                "lb.yaml: services[2].ports[0].serverNames[0]: \"*\" is also served by services[1].ports[0].serverNames[0]");
    }

    @Test
    void aNameListedTwiceInOnePortIsAnOverlapToo() {
        assertThat(problems(onePort("listen: [\"127.0.0.1:443\"]", "serverNames: [\"a.example\", \"A.example.\"]")))
                .singleElement().hasToString(
                        "lb.yaml: services[0].ports[0].serverNames[1]: \"a.example\" is also served by services[0].ports[0].serverNames[0]");
    }

    @Test
    void portsOnOneListenerMustAgreeOnTheClientHelloTimeout() {
        String yaml = SHARED.replace("clientHelloTimeout: 5s", "clientHelloTimeout: 2s");
        assertThat(problems(yaml)).singleElement().satisfies(p -> {
            assertThat(p.path()).isEqualTo("services[1].ports[0]");
            assertThat(p.message()).contains("shares listener 0.0.0.0:443 with services[0].ports[0]", "clientHelloTimeout differs");
        });
    }

    @Test
    void portsOnOneListenerMustAgreeOnTheProxyHeaderReadBeforeTheName() throws Exception {
        String accepting = "        acceptProxyProtocol: true\n        trustedUpstreams: [\"10.0.0.0/24\"]\n";
        String allAccept = SHARED.replace("        endpoints:", accepting + "        endpoints:");
        assertThat(ConfigLoader.parse(FILE, allAccept).services())
                .allSatisfy(s -> assertThat(s.ports().get(0).policy().acceptProxyProtocol().enabled()).isTrue());
        String lastTrustsOthers = allAccept.replace("        serverNames: [\"*\"]\n" + accepting,
                "        serverNames: [\"*\"]\n" + accepting.replace("10.0.0.0/24", "10.0.1.0/24"));
        assertThat(problems(lastTrustsOthers)).singleElement().satisfies(p -> {
            assertThat(p.path()).isEqualTo("services[2].ports[0]");
            assertThat(p.message()).contains("shares listener 0.0.0.0:443 with services[0].ports[0]",
                    "acceptProxyProtocol, trustedUpstreams or acceptProxyProtocolTimeout differs");
        });
        String oneDoesNot = SHARED.replace("        serverNames: [\"blog.example\"]\n",
                "        serverNames: [\"blog.example\"]\n" + accepting);
        assertThat(problems(oneDoesNot)).singleElement().satisfies(p -> assertThat(p.path()).isEqualTo("services[1].ports[0]"));
    }

    @Test
    void aPortWithoutServerNamesCannotShareTheListener() {
        String yaml = SHARED.replace("        serverNames: [\"*\"]\n", "");
        assertThat(problems(yaml)).singleElement().satisfies(p -> {
            assertThat(p.path()).isEqualTo("services[2].ports[0].listen[0]");
            assertThat(p.message()).contains("only when every one of them has serverNames");
        });
    }

    @Test
    void aPortWithServerNamesCannotJoinAPlainListener() {
        String yaml = SHARED.replace("        serverNames: [\"Shop.Example.\", \"*.shop.example\"]\n", "");
        List<ConfigProblem> problems = problems(yaml);
        assertThat(problems).extracting(ConfigProblem::path)
                .containsExactly("services[1].ports[0].listen[0]", "services[2].ports[0].listen[0]");
        assertThat(problems).allSatisfy(p -> assertThat(p.message())
                .contains("is also services[0].ports[0].listen[0], which has no serverNames"));
    }

    @Test
    void oneListenerTwiceInOnePortIsStillADuplicate() {
        assertThat(problems(onePort("listen: [\"127.0.0.1:443\", \"127.0.0.1:443\"]", "serverNames: [\"a.example\"]")))
                .singleElement().satisfies(p -> {
                    assertThat(p.path()).isEqualTo("services[0].ports[0].listen[1]");
                    assertThat(p.message()).startsWith("duplicate listener 127.0.0.1:443");
                });
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("singleErrors")
    void eachMistakeIsOneProblemAtItsPath(String name, String yaml, String path, String fragment) {
        List<ConfigProblem> problems = problems(yaml);
        assertThat(problems).as(problems.toString()).singleElement().satisfies(p -> {
            assertThat(p.path()).isEqualTo(path);
            assertThat(p.message()).contains(fragment);
        });
    }

    static Stream<Arguments> singleErrors() {
        String tcp = "listen: [\"127.0.0.1:443\"]";
        String port = "services[0].ports[0]";
        String notAName = "is not a server name";
        return Stream.of(
                error("two-label wildcard", tcp, "serverNames: [\"*.*.example\"]", port + ".serverNames[0]", notAName),
                error("wildcard inside a label", tcp, "serverNames: [\"a*.example\"]", port + ".serverNames[0]", notAName),
                error("bare wildcard dot", tcp, "serverNames: [\"*.\"]", port + ".serverNames[0]", notAName),
                error("underscore", tcp, "serverNames: [\"a_b.example\"]", port + ".serverNames[0]", notAName),
                error("label starting with a hyphen", tcp, "serverNames: [\"-a.example\"]", port + ".serverNames[0]", notAName),
                error("empty label", tcp, "serverNames: [\"a..example\"]", port + ".serverNames[0]", notAName),
                error("label of 64", tcp, "serverNames: [\"" + "a".repeat(64) + ".example\"]", port + ".serverNames[0]", notAName),
                error("with a port", tcp, "serverNames: [\"a.example:443\"]", port + ".serverNames[0]", notAName),
                error("empty name", tcp, "serverNames: [\"\"]", port + ".serverNames[0]", notAName),
                error("not a string", tcp, "serverNames: [{a: b}]", port + ".serverNames[0]", notAName),
                error("empty list", tcp, "serverNames: []", port + ".serverNames", "must be a non-empty list"),
                error("not a list", tcp, "serverNames: a.example", port + ".serverNames", "must be a non-empty list"),
                error("on a UDP port", "listen: [\"127.0.0.1:53\"]\nprotocol: UDP", "serverNames: [\"a.example\"]",
                        port + ".serverNames", "is for TCP ports"),
                error("timeout on a UDP port", "listen: [\"127.0.0.1:53\"]\nprotocol: UDP", "clientHelloTimeout: 1s",
                        port + ".clientHelloTimeout", "no TLS ClientHello"),
                error("timeout without names", tcp, "clientHelloTimeout: 1s", port + ".clientHelloTimeout",
                        "has no effect without serverNames"),
                error("timeout 0", tcp, "serverNames: [\"a.example\"]\nclientHelloTimeout: \"0\"", port + ".clientHelloTimeout",
                        "must be more than 0"),
                error("timeout not a duration", tcp, "serverNames: [\"a.example\"]\nclientHelloTimeout: 5",
                        port + ".clientHelloTimeout", "is not a duration"));
    }

    /** One service with one port of {@code lines}, and an endpoint. */
    private static String onePort(String... lines) {
        String[] withEndpoint = java.util.Arrays.copyOf(lines, lines.length + 1);
        withEndpoint[lines.length] = "endpoints: [\"10.0.0.1:8443\"]";
        return OnePortConfigs.onePort(withEndpoint);
    }

    private static Arguments error(String name, String port, String names, String path, String fragment) {
        return Arguments.of(name, onePort(port, names), path, fragment);
    }

    private static List<ConfigProblem> problems(String yaml) {
        return OnePortConfigs.problems(FILE, yaml);
    }
}

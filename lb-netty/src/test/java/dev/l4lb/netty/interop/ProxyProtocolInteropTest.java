package dev.l4lb.netty.interop;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import dev.l4lb.core.config.BalancerConfig;
import dev.l4lb.netty.Balancer;
import dev.l4lb.netty.transport.Transport;
import dev.l4lb.netty.echo.EchoServer;
import dev.l4lb.netty.testing.Closer;
import dev.l4lb.netty.testing.Configs;
import dev.l4lb.netty.testing.EchoBackends;
import dev.l4lb.netty.testing.NoLeaks;
import dev.l4lb.netty.testing.PeerProcess;
import dev.l4lb.netty.testing.Ports;

/**
 * The PROXY protocol against the two implementations people put next to l4lb: real nginx and
 * HAProxy processes on loopback read the headers l4lb writes, and HAProxy's headers are what l4lb
 * reads. Our own decoder agreeing with our own encoder would not show that either matches them.
 * Skipped where nginx or HAProxy is not installed, unless {@code L4LB_REQUIRE_PEERS=1} (CI).
 */
@ExtendWith(NoLeaks.class)
class ProxyProtocolInteropTest {
    private static final Transport TRANSPORT = Transport.select("auto");
    /**
     * The client's address. The balancer and the peers connect from 127.0.0.1, so a client there
     * would make "the peer saw the client's address" true even when no header was read.
     */
    private static final String CLIENT_IP = "127.0.0.7";
    private static final String HAPROXY_GLOBAL = """
            global
                log stdout format raw local0
            defaults
                mode tcp
                log global
                timeout connect 2s
                timeout client 5s
                timeout server 5s
            """;

    @RegisterExtension
    final Closer toClose = new Closer();
    @TempDir
    Path dir;

    @ParameterizedTest(name = "proxyProtocol: {0}")
    @ValueSource(strings = {"v1", "v2", "v2 with unique id"})
    void nginxReadsTheClientFromOurHeader(String variant) throws Exception {
        InetSocketAddress nginxAt = Ports.loopback(Ports.free());
        PeerProcess nginx = toClose.add(PeerProcess.nginx(dir, """
                load_module %s;
                events {}
                stream {
                    server {
                        listen %s proxy_protocol;
                        # without a header, close before the client's read times out: the failure shows nginx's log
                        proxy_protocol_timeout 2s;
                        return "$proxy_protocol_addr $proxy_protocol_port $proxy_protocol_server_addr $proxy_protocol_server_port\\n";
                    }
                }
                """.formatted(PeerProcess.nginxStreamModule(), "127.0.0.1:" + nginxAt.getPort()), nginxAt));
        InetSocketAddress listen = Ports.loopback(Ports.free());
        start(Configs.tcp(listen, List.of(nginxAt), senderKeys(variant)));

        try (Socket client = clientTo(listen)) {
            // nginx answers as soon as it has read the header; the client sends nothing.
            assertThat(readAll(client)).as("nginx's answer; its log:\n%s", nginx.output())
                    .isEqualTo(CLIENT_IP + " " + client.getLocalPort() + " 127.0.0.1 " + listen.getPort() + "\n");
        }
    }

    @ParameterizedTest(name = "proxyProtocol: {0}")
    @ValueSource(strings = {"v1", "v2", "v2 with unique id"})
    void haproxyLogsTheClientFromOurHeader(String variant) throws Exception {
        EchoServer echo = toClose.add(EchoBackends.start(TRANSPORT, 1));
        InetSocketAddress haproxyAt = Ports.loopback(Ports.free());
        PeerProcess haproxy = toClose.add(PeerProcess.haproxy(dir, HAPROXY_GLOBAL + """
                frontend from_l4lb
                    bind 127.0.0.1:%d accept-proxy
                    log-format "proxied client=%%ci:%%cp destination=%%fi:%%fp unique_id=%%[fc_pp_unique_id]"
                    default_backend echo
                backend echo
                    server echo1 127.0.0.1:%d
                """.formatted(haproxyAt.getPort(), echo.addresses().get(0).getPort()), haproxyAt));
        InetSocketAddress listen = Ports.loopback(Ports.free());
        start(Configs.tcp(listen, List.of(haproxyAt), senderKeys(variant)));

        int clientPort;
        try (Socket client = clientTo(listen)) {
            clientPort = client.getLocalPort();
            byte[] hello = "hello through l4lb and haproxy".getBytes(StandardCharsets.US_ASCII);
            client.getOutputStream().write(hello);
            assertThat(new String(client.getInputStream().readNBytes(hello.length), StandardCharsets.US_ASCII))
                    .as("the echo; haproxy's log:\n%s", haproxy.output())
                    .isEqualTo("hello through l4lb and haproxy");
        }

        // HAProxy logs a TCP session when it ends, after our close has travelled through.
        List<String> logged = await().atMost(Duration.ofSeconds(5))
                .until(() -> proxiedLines(haproxy), lines -> !lines.isEmpty());
        assertThat(logged).as("haproxy's log:\n%s", haproxy.output()).hasSize(1);
        Matcher line = Pattern.compile("proxied client=(\\S+) destination=(\\S+) unique_id=(\\S+)").matcher(logged.get(0));
        assertThat(line.matches()).as("log line %s", logged.get(0)).isTrue();
        assertThat(line.group(1)).isEqualTo(CLIENT_IP + ":" + clientPort);
        assertThat(line.group(2)).isEqualTo("127.0.0.1:" + listen.getPort());
        if (variant.endsWith("unique id")) {
            assertThat(line.group(3)).as("the unique id TLV as HAProxy read it").isNotEqualTo("-");
        } else {
            assertThat(line.group(3)).as("no unique id TLV was sent").isEqualTo("-");
        }
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"send-proxy", "send-proxy-v2", "send-proxy-v2 proxy-v2-options unique-id,crc32c"})
    void haproxysHeaderCarriesTheClientThroughUsToTheBackend(String serverOptions) throws Exception {
        EchoServer backend = toClose.add(EchoServer.start(List.of(Ports.loopback(0)), TRANSPORT, 1, true));
        InetSocketAddress listen = Ports.loopback(Ports.free());
        start(Configs.tcp(listen, backend.addresses(), "acceptProxyProtocol: true",
                "trustedUpstreams: [\"127.0.0.1/32\"]", "acceptProxyProtocolTimeout: 3s", "proxyProtocol: v2"));
        InetSocketAddress haproxyAt = Ports.loopback(Ports.free());
        PeerProcess haproxy = toClose.add(PeerProcess.haproxy(dir, HAPROXY_GLOBAL + """
                frontend clients
                    bind 127.0.0.1:%d
                    # the id that proxy-v2-options unique-id sends; unused by the other variants
                    unique-id-format %%ci:%%cp_%%rt
                    default_backend l4lb
                backend l4lb
                    server l4lb1 127.0.0.1:%d %s
                """.formatted(haproxyAt.getPort(), listen.getPort(), serverOptions), haproxyAt));

        try (Socket client = clientTo(haproxyAt)) {
            client.getOutputStream().write("GET /interop HTTP/1.0\r\nHost: test\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            String page = readAll(client);
            assertThat(page).as("the echo page; haproxy's log:\n%s", haproxy.output())
                    .contains("client_address=" + CLIENT_IP + "\n", "client_port=" + client.getLocalPort() + "\n",
                            "proxy_protocol=v2\n");
        }
    }

    /** The port keys that make l4lb send {@code variant}'s header. */
    private static String[] senderKeys(String variant) {
        return switch (variant) {
            case "v1" -> new String[] {"proxyProtocol: v1"};
            case "v2" -> new String[] {"proxyProtocol: v2"};
            case "v2 with unique id" -> new String[] {"proxyProtocol: v2", "proxyProtocolUniqueId: true"};
            default -> throw new IllegalArgumentException(variant);
        };
    }

    private void start(BalancerConfig config) throws Exception {
        toClose.add(Balancer.start(config, TRANSPORT, 2));
    }

    /** A client socket from {@link #CLIENT_IP}, connected to {@code to}. */
    private static Socket clientTo(InetSocketAddress to) throws IOException {
        Socket socket = new Socket();
        try {
            socket.bind(new InetSocketAddress(InetAddress.getByName(CLIENT_IP), 0));
            socket.connect(to, 5000);
            socket.setSoTimeout(5000);
            return socket;
        } catch (IOException e) {
            socket.close();
            throw e;
        }
    }

    private static String readAll(Socket client) throws IOException {
        return new String(client.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    }

    /** The lines of HAProxy's log in our log-format (its own notices, e.g. about the start-up probe, left out). */
    private static List<String> proxiedLines(PeerProcess haproxy) {
        List<String> proxied = new ArrayList<>();
        for (String line : haproxy.lines()) {
            if (line.startsWith("proxied ")) {
                proxied.add(line);
            }
        }
        return proxied;
    }
}

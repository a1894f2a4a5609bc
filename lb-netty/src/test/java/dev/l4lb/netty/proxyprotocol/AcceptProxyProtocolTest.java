package dev.l4lb.netty.proxyprotocol;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import io.netty.buffer.ByteBuf;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.haproxy.HAProxyCommand;
import io.netty.handler.codec.haproxy.HAProxyMessage;
import io.netty.handler.codec.haproxy.HAProxyMessageEncoder;
import io.netty.handler.codec.haproxy.HAProxyProtocolVersion;
import io.netty.handler.codec.haproxy.HAProxyProxiedProtocol;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

import dev.l4lb.core.config.BalancerConfig;
import dev.l4lb.core.table.Outcome;
import dev.l4lb.core.table.PortCounters;
import dev.l4lb.netty.Balancer;
import dev.l4lb.netty.transport.Transport;
import dev.l4lb.netty.echo.EchoServer;
import dev.l4lb.netty.testing.Closer;
import dev.l4lb.netty.testing.Configs;
import dev.l4lb.netty.testing.NoLeaks;
import dev.l4lb.netty.testing.Ports;
import dev.l4lb.netty.testing.RawHttp;
import dev.l4lb.netty.testing.Sockets;

/**
 * {@code acceptProxyProtocol} with {@code trustedUpstreams}: a balancer behind another one takes
 * the client from the PROXY header, and everyone who is not a trusted upstream, or does not send a
 * whole valid header in time, is closed and counted while other connections go on. The headers
 * here are Netty's encoder's bytes (or those bytes broken on purpose); the backends are echo
 * servers that read the header the balancer sends onward and report the client it names.
 */
@ExtendWith(NoLeaks.class)
class AcceptProxyProtocolTest {
    private static final Transport TRANSPORT = Transport.select("auto");
    private static final String REQUEST = "GET /pp HTTP/1.0\r\nHost: test\r\n\r\n";
    private static final Pattern CLIENT = Pattern.compile("(?m)^client_address=(\\S+)\\nclient_port=(\\d+)$");
    private static final Pattern UNIQUE_ID = Pattern.compile("(?m)^proxy_unique_id=(\\S+)$");

    @RegisterExtension
    final Closer toClose = new Closer();
    private Balancer balancer;

    @ParameterizedTest
    @ValueSource(strings = {"v1", "v2"})
    void theHeadersClientIsTheClientFromThenOn(String version) throws Exception {
        InetSocketAddress listen = acceptingPort("proxyProtocol: v2");

        String page = exchange(listen, header(version, "10.1.2.3", 5555, "10.9.9.9", 80), REQUEST);

        assertThat(clientOf(page)).isEqualTo("10.1.2.3:5555");
        assertThat(page).contains("proxy_protocol=v2", "real path=/pp");
        assertThat(counters().count(Outcome.OK)).isEqualTo(1);
    }

    @ParameterizedTest
    @ValueSource(strings = {"v1", "v2"})
    void aHeaderArrivingOneByteAtATimeStillParses(String version) throws Exception {
        InetSocketAddress listen = acceptingPort("proxyProtocol: v2");
        byte[] header = header(version, "10.1.2.3", 5555, "10.9.9.9", 80);

        try (Socket client = connect(listen)) {
            client.setTcpNoDelay(true); // one segment per write
            OutputStream out = client.getOutputStream();
            for (byte b : header) {
                out.write(b);
                out.flush();
                Thread.sleep(2);
            }
            out.write(REQUEST.getBytes(StandardCharsets.US_ASCII));
            assertThat(clientOf(readAll(client))).isEqualTo("10.1.2.3:5555");
        }
    }

    @Test
    void anIpv6ClientInTheHeaderIsPassedOn() throws Exception {
        InetSocketAddress listen = acceptingPort("proxyProtocol: v1");

        String page = exchange(listen, header("v2", "2001:db8::7", 40000, "2001:db8::1", 443), REQUEST);

        assertThat(clientOf(page)).isEqualTo("2001:db8::7:40000");
        assertThat(page).contains("proxy_protocol=v1");
    }

    @Test
    void aLocalCommandIsServedAsTheUpstreamItself() throws Exception {
        InetSocketAddress listen = acceptingPort("proxyProtocol: v2");
        byte[] local = encode(new HAProxyMessage(HAProxyProtocolVersion.V2, HAProxyCommand.LOCAL,
                HAProxyProxiedProtocol.UNKNOWN, null, null, 0, 0));

        try (Socket client = connect(listen)) {
            write(client, local, REQUEST);
            assertThat(clientOf(readAll(client))).isEqualTo("127.0.0.1:" + client.getLocalPort());
        }
    }

    @Test
    void anUntrustedPeerIsClosedEvenWithAValidHeader() throws Exception {
        InetSocketAddress listen = acceptingPort("proxyProtocol: v2", "trustedUpstreams: [\"10.0.0.0/8\", \"::1\"]");

        try (Socket client = connect(listen)) {
            try {
                write(client, header("v1", "10.1.2.3", 5555, "10.9.9.9", 80), REQUEST);
            } catch (SocketException resetAlready) {
                // the reset may come back before we have written anything
            }
            assertClosed(client);
        } catch (SocketException resetWhileConnecting) {
            // ...or even before connect() returned: closed at once all the same
            assertThat(resetWhileConnecting).hasMessageContaining("reset");
        }
        await().atMost(Duration.ofSeconds(10)).until(() -> counters().count(Outcome.UNTRUSTED_UPSTREAM) == 1);
        assertThat(counters().count(Outcome.OK)).isZero();
        assertThat(counters().count(Outcome.BAD_PROXY_HEADER)).isZero();
    }

    static Stream<Arguments> badHeaders() {
        byte[] v1 = header("v1", "10.1.2.3", 5555, "10.9.9.9", 80);
        byte[] v2 = header("v2", "10.1.2.3", 5555, "10.9.9.9", 80);
        byte[] badSignature = v2.clone();
        badSignature[11] = 'X'; // the 12-byte signature ends in 0x0A
        byte[] shortLength = v2.clone();
        shortLength[15] = 4; // a TCP4 address block needs 12 bytes
        byte[] longLength = v2.clone();
        longLength[14] = 0x01; // promises 256 more bytes than will come
        byte[] garbage = new byte[64];
        new Random(5).nextBytes(garbage);
        return Stream.of(
                Arguments.of("v1 cut short, then FIN", Arrays.copyOf(v1, 20), true),
                Arguments.of("v2 cut short, then FIN", Arrays.copyOf(v2, 20), true),
                Arguments.of("v1 line over 107 bytes", ("PROXY TCP4 10.1.2.3 10.9.9.9 5555 80" + " ".repeat(100) + "\r\n")
                        .getBytes(StandardCharsets.US_ASCII), false),
                Arguments.of("v1 line of 200 bytes without its CRLF", ("PROXY TCP4 " + "1".repeat(189))
                        .getBytes(StandardCharsets.US_ASCII), false),
                Arguments.of("v1 unknown family", "PROXY TCP5 10.1.2.3 10.9.9.9 5555 80\r\n".getBytes(StandardCharsets.US_ASCII), false),
                Arguments.of("v1 address out of range", "PROXY TCP4 10.1.2.300 10.9.9.9 5555 80\r\n".getBytes(StandardCharsets.US_ASCII), false),
                Arguments.of("v2 bad signature", badSignature, false),
                Arguments.of("v2 length too short for its family", shortLength, false),
                Arguments.of("v2 length beyond what arrives (times out)", longLength, false),
                Arguments.of("an HTTP request with no header", REQUEST.getBytes(StandardCharsets.US_ASCII), false),
                Arguments.of("random bytes", garbage, false),
                Arguments.of("nothing at all (times out)", new byte[0], false),
                Arguments.of("nothing at all, then FIN", new byte[0], true));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("badHeaders")
    void aBadHeaderClosesThatConnectionOnlyAndIsCounted(String name, byte[] bytes, boolean fin) throws Exception {
        InetSocketAddress listen = acceptingPort("proxyProtocol: v2", "acceptProxyProtocolTimeout: 500ms");

        try (Socket good = connect(listen); Socket bad = connect(listen)) {
            good.getOutputStream().write(header("v2", "10.1.2.3", 5555, "10.9.9.9", 80));
            bad.getOutputStream().write(bytes);
            if (fin) {
                bad.shutdownOutput();
            }
            assertClosed(bad);
            // A connection that was open all along is served as if nothing happened.
            assertThat(clientOf(exchange(good, new byte[0], REQUEST))).isEqualTo("10.1.2.3:5555");
        }
        await().atMost(Duration.ofSeconds(10)).until(() -> counters().count(Outcome.BAD_PROXY_HEADER) == 1);
        assertThat(counters().count(Outcome.OK)).isEqualTo(1);
        assertThat(counters().active()).isZero();
    }

    @Test
    void sourceRangesJudgeTheHeadersClientNotTheUpstream() throws Exception {
        // The upstream (127.0.0.1) is outside the ranges; the clients its headers name decide.
        InetSocketAddress listen = acceptingPort("proxyProtocol: v2", "sourceRanges: [\"10.0.0.0/8\"]");

        assertThat(clientOf(exchange(listen, header("v1", "10.1.2.3", 5555, "10.9.9.9", 80), REQUEST)))
                .isEqualTo("10.1.2.3:5555");
        try (Socket client = connect(listen)) {
            write(client, header("v1", "192.0.2.1", 5555, "10.9.9.9", 80), REQUEST);
            assertClosed(client);
        }
        await().atMost(Duration.ofSeconds(10)).until(() -> counters().count(Outcome.DENIED_SOURCE) == 1);
    }

    @ParameterizedTest
    @ValueSource(strings = {"sessionAffinity: ClientIP", "scheduler: sh", "scheduler: mh"})
    void affinityAndHashingFollowTheHeadersClient(String keyedByClient) throws Exception {
        InetSocketAddress listen = acceptingPort(3, "proxyProtocol: v2", keyedByClient);

        // One client behind the upstream, many source ports: one backend.
        Set<String> forOneClient = new HashSet<>();
        for (int port = 1000; port < 1006; port++) {
            forOneClient.add(RawHttp.backendOf(exchange(listen, header("v2", "10.0.0.1", port, "10.9.9.9", 80), REQUEST)));
        }
        assertThat(forOneClient).hasSize(1);
        // Many clients, all arriving from the same upstream address: spread over the backends.
        Set<String> forManyClients = new HashSet<>();
        for (int i = 1; i <= 30; i++) {
            forManyClients.add(RawHttp.backendOf(exchange(listen, header("v2", "10.0.1." + i, 1000, "10.9.9.9", 80), REQUEST)));
        }
        assertThat(forManyClients).hasSizeGreaterThan(1);
    }

    @Test
    void twoBalancersInARowCarryTheOriginalClient() throws Exception {
        EchoServer backend = proxyProtocolBackends(1);
        InetSocketAddress second = Ports.loopback(Ports.free());
        start(Configs.tcp(second, backend.addresses(), "acceptProxyProtocol: true", "trustedUpstreams: [\"127.0.0.1/32\"]",
                "proxyProtocol: v2", "proxyProtocolUniqueId: true"));
        // The first balancer is another process in life; here another instance, as one balancer refuses to loop to itself.
        InetSocketAddress front = Ports.loopback(Ports.free());
        toClose.add(Balancer.start(Configs.tcp(front, List.of(second), "proxyProtocol: v1"), TRANSPORT, 1));

        try (Socket client = new Socket()) {
            client.bind(new InetSocketAddress(InetAddress.getByName("127.0.0.7"), 0)); // not the balancers' 127.0.0.1
            client.connect(front, 5000);
            client.setSoTimeout(10_000);
            write(client, new byte[0], REQUEST);
            String page = readAll(client);
            assertThat(clientOf(page)).isEqualTo("127.0.0.7:" + client.getLocalPort());
            assertThat(page).contains("proxy_protocol=v2");
        }
    }

    @Test
    void theUniqueIdTlvNamesEachConnection() throws Exception {
        EchoServer backend = proxyProtocolBackends(1);
        InetSocketAddress listen = Ports.loopback(Ports.free());
        start(Configs.tcp(listen, backend.addresses(), "proxyProtocol: v2", "proxyProtocolUniqueId: true"));

        Set<String> ids = new HashSet<>();
        for (int i = 0; i < 3; i++) {
            Matcher id = UNIQUE_ID.matcher(RawHttp.get(listen, "/id"));
            assertThat(id.find()).isTrue();
            assertThat(id.group(1).length()).isBetween(1, ProxyHeaders.MAX_UNIQUE_ID_BYTES);
            ids.add(id.group(1));
        }
        assertThat(ids).hasSize(3);
    }

    @Test
    void anIpv6ClientReachesAnIpv6BackendThroughV2() throws Exception {
        Assumptions.assumeTrue(Ports.ipv6LoopbackUp(), "no IPv6 loopback on this machine");
        InetAddress v6 = InetAddress.getByName("::1");
        EchoServer backend = EchoServer.start(List.of(new InetSocketAddress(v6, 0)), TRANSPORT, 1, true);
        toClose.add(backend);
        InetSocketAddress listen = new InetSocketAddress(v6, Ports.free());
        start(Configs.tcp(listen, backend.addresses(), "proxyProtocol: v2"));

        try (Socket client = new Socket()) {
            client.connect(listen, 5000);
            client.setSoTimeout(10_000);
            write(client, new byte[0], REQUEST);
            String page = readAll(client);
            assertThat(clientOf(page)).isEqualTo("::1:" + client.getLocalPort());
            assertThat(page).contains("proxy_protocol=v2");
        }
    }

    /** A port that accepts headers from 127.0.0.1 (unless the keys say otherwise) before one backend. */
    private InetSocketAddress acceptingPort(String... keys) throws Exception {
        return acceptingPort(1, keys);
    }

    private InetSocketAddress acceptingPort(int backends, String... keys) throws Exception {
        EchoServer server = proxyProtocolBackends(backends);
        InetSocketAddress listen = Ports.loopback(Ports.free());
        boolean trustGiven = Stream.of(keys).anyMatch(k -> k.startsWith("trustedUpstreams"));
        Stream<String> all = Stream.concat(Stream.of("acceptProxyProtocol: true"), Stream.of(keys));
        if (!trustGiven) {
            all = Stream.concat(all, Stream.of("trustedUpstreams: [\"127.0.0.1/32\"]"));
        }
        start(Configs.tcp(listen, server.addresses(), all.toArray(String[]::new)));
        return listen;
    }

    private void start(BalancerConfig config) throws Exception {
        balancer = Balancer.start(config, TRANSPORT, 2);
        toClose.add(balancer);
    }

    private PortCounters counters() {
        return balancer.snapshot().routes().get(balancer.snapshot().routes().size() - 1).counters();
    }

    private EchoServer proxyProtocolBackends(int count) throws Exception {
        List<InetSocketAddress> addresses = Stream.generate(() -> Ports.loopback(0)).limit(count).toList();
        EchoServer server = EchoServer.start(addresses, TRANSPORT, 1, true);
        toClose.add(server);
        return server;
    }

    /** The header Netty's encoder writes for a TCP client of that family. */
    static byte[] header(String version, String source, int sourcePort, String destination, int destinationPort) {
        HAProxyProtocolVersion v = version.equals("v1") ? HAProxyProtocolVersion.V1 : HAProxyProtocolVersion.V2;
        HAProxyProxiedProtocol family = source.contains(":") ? HAProxyProxiedProtocol.TCP6 : HAProxyProxiedProtocol.TCP4;
        return encode(new HAProxyMessage(v, HAProxyCommand.PROXY, family, source, destination, sourcePort, destinationPort));
    }

    private static byte[] encode(HAProxyMessage message) {
        EmbeddedChannel channel = new EmbeddedChannel(HAProxyMessageEncoder.INSTANCE);
        try {
            channel.writeOutbound(message);
            ByteBuf encoded = channel.readOutbound();
            try {
                byte[] bytes = new byte[encoded.readableBytes()];
                encoded.readBytes(bytes);
                return bytes;
            } finally {
                encoded.release();
            }
        } finally {
            channel.finishAndReleaseAll();
        }
    }

    private static Socket connect(InetSocketAddress address) throws IOException {
        Socket socket = new Socket();
        socket.connect(address, 5000);
        socket.setSoTimeout(10_000);
        return socket;
    }

    private static String exchange(InetSocketAddress listen, byte[] header, String request) throws IOException {
        try (Socket client = connect(listen)) {
            return exchange(client, header, request);
        }
    }

    /** Header and request in one write, as an upstream balancer sends them. */
    private static String exchange(Socket client, byte[] header, String request) throws IOException {
        write(client, header, request);
        return readAll(client);
    }

    private static void write(Socket client, byte[] header, String request) throws IOException {
        byte[] body = request.getBytes(StandardCharsets.US_ASCII);
        byte[] both = Arrays.copyOf(header, header.length + body.length);
        System.arraycopy(body, 0, both, header.length, body.length);
        client.getOutputStream().write(both);
    }

    private static String readAll(Socket client) throws IOException {
        return new String(client.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    }

    /** {@code ip:port} from the echo page. */
    private static String clientOf(String page) {
        Matcher m = CLIENT.matcher(page);
        assertThat(m.find()).as("client lines in %s", page).isTrue();
        return m.group(1) + ":" + m.group(2);
    }

    /** The balancer ended the connection (FIN or reset) without relaying anything. */
    private static void assertClosed(Socket client) throws IOException {
        assertThat(Sockets.readOrEnd(client)).isEqualTo(-1);
    }
}

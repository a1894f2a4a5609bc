package dev.l4lb.netty.tcp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.jspecify.annotations.Nullable;

import dev.l4lb.core.table.HelloRejection;
import dev.l4lb.core.table.HelloRejections;
import dev.l4lb.core.table.Outcome;
import dev.l4lb.core.table.Route;
import dev.l4lb.netty.Balancer;
import dev.l4lb.netty.log.ConnectionLog;
import dev.l4lb.netty.testing.Configs;
import dev.l4lb.netty.testing.NoLeaks;
import dev.l4lb.netty.testing.Ports;
import dev.l4lb.netty.testing.TestCertificate;
import dev.l4lb.netty.testing.TlsEchoBackend;
import dev.l4lb.netty.transport.Transport;

/**
 * TLS passthrough routed by SNI (issue #18): real TLS clients (Java's SSLSocket and openssl
 * s_client) through one listener to the backend each name picks, the session end to end between
 * them; and the connections that cannot be routed, reset and counted by reason.
 */
@ExtendWith(NoLeaks.class)
class ServerNameRoutingTest {
    @TempDir
    static Path dir;
    private static TestCertificate certificate;
    private static TlsEchoBackend shop;
    private static TlsEchoBackend blog;
    private static TlsEchoBackend fallback;
    private static Balancer balancer;
    /** shop, blog and a * fallback share it. */
    private static InetSocketAddress shared;
    /** Only one name, no *: anything else is reset. */
    private static InetSocketAddress strict;
    /** A * port with a short clientHelloTimeout. */
    private static InetSocketAddress hurried;
    /** Behind a balancer on 127.0.0.1 that sends PROXY headers: shop only for clients in 10.9.8.0/24, and a *. */
    private static InetSocketAddress proxied;

    @BeforeAll
    static void start() throws Exception {
        certificate = TestCertificate.create(dir, "shop.example", "*.shop.example", "blog.example", "only.example");
        shop = new TlsEchoBackend("shop", certificate.server());
        blog = new TlsEchoBackend("blog", certificate.server());
        fallback = new TlsEchoBackend("fallback", certificate.server());
        shared = Ports.loopback(Ports.free());
        strict = Ports.loopback(Ports.free());
        hurried = Ports.loopback(Ports.free());
        proxied = Ports.loopback(Ports.free());
        balancer = Balancer.start(Configs.parse("""
                services:
                  - name: shop/web
                    ports:
                      - listen: ["127.0.0.1:%1$d"]
                        serverNames: ["shop.example", "*.shop.example"]
                        endpoints: ["127.0.0.1:%4$d"]
                  - name: blog/web
                    ports:
                      - name: tls
                        listen: ["127.0.0.1:%1$d"]
                        serverNames: ["blog.example"]
                        endpoints: ["127.0.0.1:%5$d"]
                      - name: strict
                        listen: ["127.0.0.1:%2$d"]
                        serverNames: ["only.example"]
                        endpoints: ["127.0.0.1:%5$d"]
                  - name: default/fallback
                    ports:
                      - name: tls
                        listen: ["127.0.0.1:%1$d"]
                        serverNames: ["*"]
                        endpoints: ["127.0.0.1:%6$d"]
                      - name: hurried
                        listen: ["127.0.0.1:%3$d"]
                        serverNames: ["*"]
                        clientHelloTimeout: 300ms
                        endpoints: ["127.0.0.1:%6$d"]
                      - name: proxied
                        listen: ["127.0.0.1:%7$d"]
                        serverNames: ["*"]
                        acceptProxyProtocol: true
                        trustedUpstreams: ["127.0.0.1/32"]
                        endpoints: ["127.0.0.1:%6$d"]
                  - name: proxied/shop
                    ports:
                      - listen: ["127.0.0.1:%7$d"]
                        serverNames: ["proxied.example"]
                        acceptProxyProtocol: true
                        trustedUpstreams: ["127.0.0.1/32"]
                        sourceRanges: ["10.9.8.0/24"]
                        endpoints: ["127.0.0.1:%4$d"]
                """.formatted(shared.getPort(), strict.getPort(), hurried.getPort(), shop.address().getPort(),
                blog.address().getPort(), fallback.address().getPort(), proxied.getPort())), Transport.select("auto"), 2);
    }

    @AfterAll
    static void stop() throws Exception {
        balancer.close();
        shop.close();
        blog.close();
        fallback.close();
    }

    @Test
    void eachNameReachesItsBackendWithTheSessionIntact() throws Exception {
        assertThat(javaClient(shared, "shop.example", "one")).isEqualTo("shop shop.example one");
        assertThat(javaClient(shared, "a.shop.example", "two")).isEqualTo("shop a.shop.example two");
        assertThat(javaClient(shared, "blog.example", "three")).isEqualTo("blog blog.example three");
        assertThat(javaClient(strict, "only.example", "four")).isEqualTo("blog only.example four");
    }

    @Test
    void aNameNoPortListsAndAHelloWithoutSniGoToStar() throws Exception {
        assertThat(javaClient(shared, "b.a.shop.example", "deep")).isEqualTo("fallback b.a.shop.example deep");
        assertThat(javaClient(shared, "other.example", "other")).isEqualTo("fallback other.example other");
        assertThat(javaClient(shared, null, "none")).isEqualTo("fallback - none");
    }

    @Test
    void opensslClientsAreRoutedByTheirServerName() throws Exception {
        assertThat(opensslClient(shared, "blog.example", "from openssl")).contains("blog blog.example from openssl");
        assertThat(opensslClient(shared, "x.shop.example", "wild")).contains("shop x.shop.example wild");
    }

    @Test
    void withoutStarAnUnmatchedNameIsResetAndCounted() throws Exception {
        long before = rejections(strict).count(HelloRejection.NO_MATCH);
        assertThatThrownBy(() -> javaClient(strict, "blog.example", "x")).isInstanceOf(IOException.class);
        assertThatThrownBy(() -> javaClient(strict, null, "x")).isInstanceOf(IOException.class);
        await().atMost(Duration.ofSeconds(5)).until(() -> rejections(strict).count(HelloRejection.NO_MATCH) == before + 2);
    }

    @Test
    void aClientHelloSentOneBytePerSegmentStillRoutes() throws Exception {
        byte[] hello = capturedClientHello("frag.shop.example");
        try (Socket client = new Socket()) {
            client.setTcpNoDelay(true);
            client.connect(shared, 5000);
            client.setSoTimeout(10_000);
            for (byte b : hello) {
                client.getOutputStream().write(b);
                client.getOutputStream().flush();
                Thread.sleep(1);
            }
            // The backend answers the whole hello with its ServerHello: a handshake record.
            assertThat(client.getInputStream().read()).isEqualTo(22);
        }
        assertThat(shop.namesSeen()).contains("frag.shop.example");
    }

    @Test
    void bytesThatAreNotTlsAreResetAndCountedNotTls() throws Exception {
        long before = rejections(shared).count(HelloRejection.NOT_TLS);
        assertReset(shared, "GET / HTTP/1.1\r\nHost: shop.example\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
        await().atMost(Duration.ofSeconds(5)).until(() -> rejections(shared).count(HelloRejection.NOT_TLS) == before + 1);
    }

    @Test
    void aClientHelloOver16KiBIsResetAndCountedTooLarge() throws Exception {
        long before = rejections(shared).count(HelloRejection.TOO_LARGE);
        assertReset(shared, clientHelloWithPadding("padded.shop.example", 20_000));
        await().atMost(Duration.ofSeconds(5)).until(() -> rejections(shared).count(HelloRejection.TOO_LARGE) == before + 1);
        assertThat(shop.namesSeen()).doesNotContain("padded.shop.example");
    }

    @Test
    void aRecordDeclaringMoreThanTheBalancerHoldsIsResetBeforeItAllArrives() throws Exception {
        long before = rejections(shared).count(HelloRejection.TOO_LARGE);
        try (Socket client = new Socket()) {
            client.connect(shared, 5000);
            client.setSoTimeout(10_000);
            // A handshake record header claiming 60,000 bytes, then 40 KiB of it: the parser alone
            // would wait for the whole record before it looked at the hello's length.
            byte[] start = {22, 3, 1, (byte) (60_000 >>> 8), (byte) (60_000 & 0xFF), 1, 0, (byte) 0xEA, 0x5B};
            client.getOutputStream().write(start);
            int sent = 0;
            try {
                for (; sent < 40 * 1024; sent += 1024) {
                    client.getOutputStream().write(new byte[1024]);
                }
            } catch (SocketException reset) {
                // the reset came while this was still sending
            }
            await().atMost(Duration.ofSeconds(5)).until(() -> rejections(shared).count(HelloRejection.TOO_LARGE) == before + 1);
        }
    }

    @Test
    void aClientThatEndsItsSideBeforeAWholeHelloIsResetAtOnceAndCountedTruncated() throws Exception {
        long before = rejections(shared).count(HelloRejection.TRUNCATED);
        long timedOut = rejections(shared).count(HelloRejection.TIMEOUT);
        byte[] hello = capturedClientHello("half.shop.example");
        try (Socket client = new Socket()) {
            client.connect(shared, 5000);
            client.setSoTimeout(10_000);
            client.getOutputStream().write(hello, 0, hello.length / 2);
            client.shutdownOutput();
            // Well within the shared listener's 5 s clientHelloTimeout.
            await().atMost(Duration.ofSeconds(3)).until(() -> rejections(shared).count(HelloRejection.TRUNCATED) == before + 1);
        }
        assertThat(rejections(shared).count(HelloRejection.TIMEOUT)).isEqualTo(timedOut);
        assertThat(shop.namesSeen()).doesNotContain("half.shop.example");
    }

    @Test
    void aClientHelloJustUnder16KiBStillRoutes() throws Exception {
        try (Socket client = new Socket()) {
            client.connect(shared, 5000);
            client.setSoTimeout(10_000);
            client.getOutputStream().write(clientHelloWithPadding("big.shop.example", 15_000));
            client.getOutputStream().flush();
            // Relayed whole: the backend parsed it (and refuses our made-up hello with an alert).
            await().atMost(Duration.ofSeconds(10)).until(() -> shop.namesSeen().contains("big.shop.example"));
        }
    }

    @Test
    void aSilentClientIsResetAfterTheClientHelloTimeoutAndCounted() throws Exception {
        long before = rejections(hurried).count(HelloRejection.TIMEOUT);
        try (Socket client = new Socket()) {
            client.connect(hurried, 5000);
            client.setSoTimeout(10_000);
            long start = System.nanoTime();
            assertThatThrownBy(() -> client.getInputStream().read()).isInstanceOf(SocketException.class)
                    .hasMessageContaining("reset");
            assertThat(Duration.ofNanos(System.nanoTime() - start)).isGreaterThan(Duration.ofMillis(250));
        }
        await().atMost(Duration.ofSeconds(5)).until(() -> rejections(hurried).count(HelloRejection.TIMEOUT) == before + 1);
        assertThat(balancer.metrics().scrape()).contains("l4lb_tls_hello_rejected_total{listener=\"127.0.0.1:"
                + hurried.getPort() + "\",reason=\"timeout\"}");
    }

    @Test
    void aSharedListenerIsBoundOnceAReloadMovesANameAndTheLogSaysWhichNameItRead() throws Exception {
        InetSocketAddress listen = Ports.loopback(Ports.free());
        String yaml = """
                services:
                  - name: shop/web
                    ports:
                      - listen: ["127.0.0.1:%1$d"]
                        serverNames: ["shop.example", "moving.example"]
                        endpoints: ["127.0.0.1:%2$d"]
                  - name: blog/web
                    ports:
                      - listen: ["127.0.0.1:%1$d"]
                        serverNames: ["blog.example"]
                        endpoints: ["127.0.0.1:%3$d"]
                """;
        ByteArrayOutputStream logged = new ByteArrayOutputStream();
        ConnectionLog log = ConnectionLog.start(ConnectionLog.Format.TEXT,
                new PrintStream(logged, true, StandardCharsets.UTF_8), 64);
        try (Balancer own = Balancer.start(Configs.parse(yaml.formatted(listen.getPort(), shop.address().getPort(),
                blog.address().getPort())), Transport.select("auto"), 2, log)) {
            int socketsPerAddress = own.tcp().listenerSockets(); // one per event loop with SO_REUSEPORT
            assertThat(own.tcp().listenerAddresses()).containsExactly(listen);
            assertThat(javaClient(listen, "moving.example", "before")).isEqualTo("shop moving.example before");

            String moved = yaml.replace("\"shop.example\", \"moving.example\"", "\"shop.example\"")
                    .replace("[\"blog.example\"]", "[\"blog.example\", \"moving.example\"]");
            assertThat(own.reload(Configs.parse(moved.formatted(listen.getPort(), shop.address().getPort(),
                    blog.address().getPort())), System.nanoTime()).applied()).isTrue();
            assertThat(own.tcp().listenerSockets()).isEqualTo(socketsPerAddress);
            assertThat(javaClient(listen, "moving.example", "after")).isEqualTo("blog moving.example after");
            assertThatThrownBy(() -> javaClient(listen, "nobody.example", "x")).isInstanceOf(IOException.class);
            // A name no DNS name could be, with a line break: not repeated in the log.
            assertReset(listen, clientHelloWithPadding("forged\nclosed id=x outcome=ok", 0));

            await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(logged.toString(StandardCharsets.UTF_8))
                    .contains("service=blog/web", "outcome=ok sni=moving.example")
                    .contains("service=- ", "outcome=no_match sni=nobody.example")
                    .contains("outcome=no_match sni=(invalid)")
                    .doesNotContain("forged"));
        }
    }

    @Test
    void behindABalancerThePortIsChosenByTheNameAfterThePROXYHeaderAndAdmitsTheClientItNames() throws Exception {
        String inRange = "PROXY TCP4 10.9.8.7 127.0.0.1 40000 443\r\n";
        assertThat(javaClient(proxied, inRange, "proxied.example", "behind")).isEqualTo("shop proxied.example behind");
        assertThat(javaClient(proxied, inRange, "else.example", "other")).isEqualTo("fallback else.example other");
        // The same name for a client the header puts outside the port's sourceRanges: refused by that port.
        String outOfRange = "PROXY TCP4 10.1.1.1 127.0.0.1 40000 443\r\n";
        assertThatThrownBy(() -> javaClient(proxied, outOfRange, "proxied.example", "x")).isInstanceOf(IOException.class);
        Route shopPort = balancer.snapshot().lookupServerNames(proxied).lookup("proxied.example");
        await().atMost(Duration.ofSeconds(5)).until(() -> shopPort.counters().count(Outcome.DENIED_SOURCE) == 1);
    }

    @Test
    void behindABalancerAnUntrustedPeerAndABadHeaderAreResetAndCountedOnTheListener() throws Exception {
        long untrusted = rejections(proxied).count(HelloRejection.UNTRUSTED_UPSTREAM);
        // The reset may come while the client still waits on its connect: either way the socket says so.
        assertThatThrownBy(() -> {
            try (Socket client = new Socket()) {
                client.bind(new InetSocketAddress(InetAddress.getByName("127.0.0.2"), 0));
                client.connect(proxied, 5000);
                client.setSoTimeout(10_000);
                client.getInputStream().read();
            }
        }).isInstanceOf(SocketException.class).hasMessageContaining("reset");
        await().atMost(Duration.ofSeconds(5))
                .until(() -> rejections(proxied).count(HelloRejection.UNTRUSTED_UPSTREAM) == untrusted + 1);

        long bad = rejections(proxied).count(HelloRejection.BAD_PROXY_HEADER);
        byte[] hello = capturedClientHello("proxied.example");
        try (Socket client = new Socket()) {
            client.connect(proxied, 5000);
            client.setSoTimeout(10_000);
            client.getOutputStream().write(hello); // a ClientHello where the header should be
            // Closed as any bad header is (a FIN, or a RST when the kernel still held unread bytes): never answered.
            int read;
            try {
                read = client.getInputStream().read();
            } catch (SocketException reset) {
                read = -1;
            }
            assertThat(read).isEqualTo(-1);
        }
        await().atMost(Duration.ofSeconds(5))
                .until(() -> rejections(proxied).count(HelloRejection.BAD_PROXY_HEADER) == bad + 1);
        assertThat(balancer.metrics().scrape()).contains("l4lb_tls_hello_rejected_total{listener=\"127.0.0.1:"
                + proxied.getPort() + "\",reason=\"untrusted_upstream\"}");
    }

    private static HelloRejections rejections(InetSocketAddress listener) {
        return balancer.snapshot().lookupServerNames(listener).rejections();
    }

    /** The backend's answer to {@code line}, over a TLS session with {@code serverName} (none when null). */
    private static String javaClient(InetSocketAddress address, @Nullable String serverName, String line) throws IOException {
        return javaClient(address, "", serverName, line);
    }

    /** {@link #javaClient(InetSocketAddress, String, String)} with {@code header} (a PROXY v1 line) sent first, in the clear. */
    private static String javaClient(InetSocketAddress address, String header, @Nullable String serverName, String line)
            throws IOException {
        // JSSE resumes a session it holds for the same peer name and port, and resuming sends the
        // session's server name again: so each name is a peer of its own here. An IP literal gets no SNI.
        Socket plain = new Socket(address.getAddress(), address.getPort());
        plain.getOutputStream().write(header.getBytes(StandardCharsets.US_ASCII));
        try (SSLSocket socket = (SSLSocket) certificate.client().getSocketFactory()
                .createSocket(plain, serverName == null ? "127.0.0.1" : serverName, address.getPort(), true)) {
            socket.setSoTimeout(10_000);
            SSLParameters parameters = socket.getSSLParameters();
            parameters.setServerNames(serverName == null ? List.of() : List.of(new SNIHostName(serverName)));
            socket.setSSLParameters(parameters);
            socket.startHandshake();
            socket.getOutputStream().write((line + "\n").getBytes(StandardCharsets.UTF_8));
            socket.getOutputStream().flush();
            return new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8)).readLine();
        }
    }

    /** What {@code openssl s_client} prints for a session with {@code serverName}, having sent {@code line}. */
    private static String opensslClient(InetSocketAddress address, String serverName, String line) throws Exception {
        Process process = new ProcessBuilder("openssl", "s_client", "-quiet", "-verify_return_error",
                "-CAfile", certificate.certificate().toString(), "-servername", serverName,
                "-connect", "127.0.0.1:" + address.getPort()).redirectErrorStream(true).start();
        process.getOutputStream().write((line + "\n").getBytes(StandardCharsets.UTF_8));
        process.getOutputStream().flush();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        Thread reader = new Thread(() -> {
            try {
                process.getInputStream().transferTo(out);
            } catch (IOException ignored) {
                // the process ended
            }
        });
        reader.start();
        await().atMost(Duration.ofSeconds(20)).until(() -> out.toString(StandardCharsets.UTF_8).contains(line));
        process.destroy();
        process.waitFor(10, TimeUnit.SECONDS);
        reader.join(5000);
        return out.toString(StandardCharsets.UTF_8);
    }

    /** A ClientHello as Java's TLS stack sends it for {@code serverName}: the first flight of a client SSLEngine. */
    private static byte[] capturedClientHello(String serverName) throws SSLException {
        SSLEngine engine = certificate.client().createSSLEngine(serverName, 443);
        engine.setUseClientMode(true);
        SSLParameters parameters = engine.getSSLParameters();
        parameters.setServerNames(List.of(new SNIHostName(serverName)));
        engine.setSSLParameters(parameters);
        ByteBuffer out = ByteBuffer.allocate(engine.getSession().getPacketBufferSize());
        engine.wrap(ByteBuffer.allocate(0), out);
        out.flip();
        byte[] hello = new byte[out.remaining()];
        out.get(hello);
        return hello;
    }

    /**
     * A ClientHello built by hand with a padding extension (RFC 7685) of {@code padding} bytes,
     * in as many records as the TLS record limit (2^14) needs.
     */
    private static byte[] clientHelloWithPadding(String serverName, int padding) {
        byte[] name = serverName.getBytes(StandardCharsets.US_ASCII);
        ByteArrayOutputStream extensions = new ByteArrayOutputStream();
        writeShort(extensions, 0); // server_name
        writeShort(extensions, name.length + 5);
        writeShort(extensions, name.length + 3);
        extensions.write(0); // host_name
        writeShort(extensions, name.length);
        extensions.writeBytes(name);
        writeShort(extensions, 21); // padding
        writeShort(extensions, padding);
        extensions.writeBytes(new byte[padding]);
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        writeShort(body, 0x0303);
        body.writeBytes(new byte[32]); // random
        body.write(0); // no session id
        writeShort(body, 2);
        writeShort(body, 0x1301); // TLS_AES_128_GCM_SHA256
        body.write(1);
        body.write(0); // no compression
        writeShort(body, extensions.size());
        body.writeBytes(extensions.toByteArray());
        ByteArrayOutputStream handshake = new ByteArrayOutputStream();
        handshake.write(1); // client_hello
        handshake.write(body.size() >>> 16);
        writeShort(handshake, body.size() & 0xFFFF);
        handshake.writeBytes(body.toByteArray());
        byte[] message = handshake.toByteArray();
        ByteArrayOutputStream records = new ByteArrayOutputStream();
        for (int at = 0; at < message.length; at += 1 << 14) {
            int length = Math.min(1 << 14, message.length - at);
            records.write(22);
            writeShort(records, 0x0301);
            writeShort(records, length);
            records.write(message, at, length);
        }
        return records.toByteArray();
    }

    private static void writeShort(ByteArrayOutputStream out, int value) {
        out.write(value >>> 8);
        out.write(value & 0xFF);
    }

    /** Sends {@code bytes} and expects the balancer to reset the connection. */
    private static void assertReset(InetSocketAddress address, byte[] bytes) throws IOException {
        try (Socket client = new Socket()) {
            client.connect(address, 5000);
            client.setSoTimeout(10_000);
            List<Exception> failures = new ArrayList<>();
            try {
                client.getOutputStream().write(bytes);
                client.getOutputStream().flush();
                int read = client.getInputStream().read();
                throw new AssertionError("expected a reset, read " + read);
            } catch (SocketException e) {
                failures.add(e); // "Connection reset" on the read, or on a write that came after the RST
            }
            assertThat(failures).singleElement().satisfies(e -> assertThat(e.getMessage()).containsIgnoringCase("reset"));
        }
    }
}

package dev.l4lb.netty.tcp;

import static dev.l4lb.netty.testing.Sockets.connect;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.zip.CRC32;

import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import dev.l4lb.core.config.BalancerConfig;
import dev.l4lb.core.sched.Backend;
import dev.l4lb.core.table.Outcome;
import dev.l4lb.core.table.Route;
import dev.l4lb.netty.Balancer;
import dev.l4lb.netty.transport.Transport;
import dev.l4lb.netty.echo.EchoServer;
import dev.l4lb.netty.testing.Closer;
import dev.l4lb.netty.testing.Configs;
import dev.l4lb.netty.testing.EchoBackends;
import dev.l4lb.netty.testing.NoLeaks;
import dev.l4lb.netty.testing.Ports;
import dev.l4lb.netty.testing.RawHttp;

/** The TCP relay end to end on loopback: real backends, real client sockets, each transport. */
@ExtendWith(NoLeaks.class)
class TcpRelayTest {
    @RegisterExtension
    final Closer toClose = new Closer();

    /**
     * Each transport this machine has; {@code -Dl4lb.torture.repeat=N} lists each N times, which is
     * how the half-close tests are run a hundred times per transport (README, Torture), and
     * {@code -Dl4lb.torture.transport=NAME} keeps one.
     */
    static List<Transport> transports() {
        String only = System.getProperty("l4lb.torture.transport"); // e.g. io_uring: repeat one transport's runs only
        List<Transport> each = dev.l4lb.netty.testing.Transports.available().stream()
                .filter(t -> only == null || t.displayName().equals(only)).toList();
        return java.util.stream.IntStream.range(0, Integer.getInteger("l4lb.torture.repeat", 1))
                .boxed().flatMap(i -> each.stream()).toList();
    }

    @ParameterizedTest
    @MethodSource("transports")
    void roundRobinIsExactForSequentialConnections(Transport transport) throws Exception {
        List<InetSocketAddress> backends = echoBackends(transport, 3);
        InetSocketAddress listen = Ports.loopback(Ports.free());
        start(Configs.tcp(listen, backends), transport);

        List<String> answered = new ArrayList<>();
        for (int i = 0; i < 9; i++) {
            answered.add(RawHttp.backendOf(RawHttp.get(listen, "/")));
        }
        List<String> names = backends.stream().map(a -> "127.0.0.1:" + a.getPort()).toList();
        List<String> expected = new ArrayList<>();
        for (int i = 0; i < 9; i++) {
            expected.add(names.get(i % 3));
        }
        assertThat(answered).isEqualTo(expected);
    }

    @ParameterizedTest
    @MethodSource("transports")
    void aBackendThatRefusesIsSkipped(Transport transport) throws Exception {
        List<InetSocketAddress> up = echoBackends(transport, 2);
        InetSocketAddress down = Ports.loopback(Ports.free()); // nothing listens: connect is refused
        InetSocketAddress listen = Ports.loopback(Ports.free());
        Balancer balancer = start(Configs.tcp(listen, List.of(up.get(0), down, up.get(1))), transport);

        ExecutorService clients = Executors.newFixedThreadPool(4);
        try {
            List<Future<List<String>>> results = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                results.add(clients.submit(() -> {
                    List<String> seen = new ArrayList<>();
                    for (int i = 0; i < 250; i++) {
                        seen.add(RawHttp.backendOf(RawHttp.get(listen, "/")));
                    }
                    return seen;
                }));
            }
            List<String> all = new ArrayList<>();
            for (Future<List<String>> result : results) {
                all.addAll(result.get(120, TimeUnit.SECONDS));
            }
            assertThat(all).hasSize(1000)
                    .containsOnly("127.0.0.1:" + up.get(0).getPort(), "127.0.0.1:" + up.get(1).getPort());
        } finally {
            clients.shutdownNow();
        }
        Route route = balancer.snapshot().routes().get(0);
        assertThat(route.counters().count(Outcome.OK)).isEqualTo(1000);
        assertThat(route.counters().count(Outcome.CONNECT_FAILED)).isZero();
        Backend dead = route.backends().get(1);
        assertThat(dead.counters().connectFailures()).isPositive();
        assertThat(dead.counters().established()).isZero();
        assertThat(dead.active()).isZero(); // every failed attempt gave its count back
    }

    @ParameterizedTest
    @MethodSource("transports")
    void clientHalfCloseStillGetsTheWholeReply(Transport transport) throws Exception {
        // The backend answers only after it has read the request to EOF, as many batch protocols do.
        CompletableFuture<String> backendSaw = new CompletableFuture<>();
        InetSocketAddress backend = javaBackend(socket -> {
            byte[] request = socket.getInputStream().readAllBytes(); // returns only at FIN
            backendSaw.complete("read " + request.length + " bytes then EOF");
            OutputStream out = socket.getOutputStream();
            byte[] reply = new byte[300_000];
            new Random(7).nextBytes(reply);
            out.write(reply);
            out.flush();
        });
        InetSocketAddress listen = Ports.loopback(Ports.free());
        start(Configs.tcp(listen, List.of(backend)), transport);

        byte[] request = new byte[100_000];
        new Random(1).nextBytes(request);
        byte[] expectedReply = new byte[300_000];
        new Random(7).nextBytes(expectedReply);
        try (Socket client = connect(listen)) {
            client.getOutputStream().write(request);
            client.shutdownOutput();
            byte[] reply = client.getInputStream().readAllBytes();
            assertThat(reply).isEqualTo(expectedReply);
        }
        assertThat(backendSaw.get(10, TimeUnit.SECONDS)).isEqualTo("read 100000 bytes then EOF");
    }

    @ParameterizedTest
    @MethodSource("transports")
    void backendHalfCloseStillGetsTheWholeRequest(Transport transport) throws Exception {
        // The other direction, and both FINs in flight at once: the backend says its piece and
        // shuts its output at once, while the client is still uploading; every byte of the
        // upload must reach it before its connection ends, and it ends in FIN, not a reset. The
        // backend starts reading a moment late, so the balancer has to wait to write to a socket
        // whose input has ended (what stalled io_uring before IoUringWriteKick).
        CompletableFuture<Integer> backendRead = new CompletableFuture<>();
        InetSocketAddress backend = javaBackend(socket -> {
            socket.getOutputStream().write("hello\n".getBytes(StandardCharsets.US_ASCII));
            socket.shutdownOutput();
            sleep(200);
            backendRead.complete(socket.getInputStream().readAllBytes().length);
        });
        InetSocketAddress listen = Ports.loopback(Ports.free());
        start(Configs.tcp(listen, List.of(backend)), transport);

        int upload = 16 << 20;
        try (Socket client = connect(listen)) {
            CompletableFuture<Void> sent = CompletableFuture.runAsync(() -> {
                try {
                    client.getOutputStream().write(new byte[upload]);
                    client.shutdownOutput();
                } catch (IOException e) {
                    throw new RuntimeException(e);
                }
            });
            assertThat(new String(client.getInputStream().readAllBytes(), StandardCharsets.US_ASCII)).isEqualTo("hello\n");
            sent.get(30, TimeUnit.SECONDS);
            assertThat(backendRead.get(30, TimeUnit.SECONDS)).isEqualTo(upload);
        }
    }

    @ParameterizedTest
    @MethodSource("transports")
    void aLargeReplyAfterTheClientsFinArrivesWhole(Transport transport) throws Exception {
        // More than the socket buffers hold: the balancer must keep writing to a client whose
        // input it has already seen end.
        long reply = 64L << 20;
        InetSocketAddress backend = javaBackend(socket -> {
            socket.getInputStream().readAllBytes();
            writeRandom(socket.getOutputStream(), reply, 5);
        });
        InetSocketAddress listen = Ports.loopback(Ports.free());
        start(Configs.tcp(listen, List.of(backend)), transport);

        try (Socket client = new Socket()) {
            client.setReceiveBufferSize(8 << 10); // a small window, so the balancer has to wait for it to open
            client.connect(listen, 5000);
            client.setSoTimeout(30_000);
            client.getOutputStream().write("request".getBytes(StandardCharsets.US_ASCII));
            client.shutdownOutput();
            CRC32 crc = new CRC32();
            long count = 0;
            byte[] buffer = new byte[1 << 16];
            for (int n; (n = client.getInputStream().read(buffer)) >= 0; ) {
                crc.update(buffer, 0, n);
                count += n;
            }
            assertThat(count).isEqualTo(reply);
            assertThat(crc.getValue()).isEqualTo(crcOfRandom(reply, 5));
        }
    }

    static long crcOfRandom(long total, long seed) throws IOException {
        return writeRandom(OutputStream.nullOutputStream(), total, seed);
    }

    @ParameterizedTest
    @MethodSource("transports")
    void twoHundredFiftySixMebibytesEachWayArriveIntact(Transport transport) throws Exception {
        List<InetSocketAddress> backends = echoBackends(transport, 1);
        InetSocketAddress listen = Ports.loopback(Ports.free());
        start(Configs.tcp(listen, backends), transport);

        long total = 256L << 20;
        try (Socket client = connect(listen)) {
            CompletableFuture<Long> sent = CompletableFuture.supplyAsync(() -> {
                try {
                    return writeRandom(client.getOutputStream(), total, 42);
                } catch (IOException e) {
                    throw new RuntimeException(e);
                }
            });
            CRC32 received = new CRC32();
            long count = 0;
            byte[] buffer = new byte[1 << 16];
            InputStream in = client.getInputStream();
            while (count < total) {
                int n = in.read(buffer);
                if (n < 0) {
                    break;
                }
                received.update(buffer, 0, n);
                count += n;
            }
            assertThat(count).isEqualTo(total);
            assertThat(received.getValue()).isEqualTo(sent.get(60, TimeUnit.SECONDS));
        }
    }

    @ParameterizedTest
    @MethodSource("transports")
    void aResetFromTheBackendReachesTheClientAsAReset(Transport transport) throws Exception {
        InetSocketAddress backend = javaBackend(socket -> {
            socket.getInputStream().read(new byte[16]);
            socket.setSoLinger(true, 0);
            socket.close(); // RST
        });
        InetSocketAddress listen = Ports.loopback(Ports.free());
        start(Configs.tcp(listen, List.of(backend)), transport);

        try (Socket client = connect(listen)) {
            client.getOutputStream().write("ping".getBytes(StandardCharsets.US_ASCII));
            assertThatThrownBy(() -> client.getInputStream().read())
                    .isInstanceOf(SocketException.class)
                    .hasMessageContaining("reset");
        }
    }

    @ParameterizedTest
    @MethodSource("transports")
    void aResetFromTheClientReachesTheBackendAsAReset(Transport transport) throws Exception {
        CompletableFuture<Throwable> backendSaw = new CompletableFuture<>();
        CompletableFuture<Void> backendReady = new CompletableFuture<>();
        InetSocketAddress backend = javaBackend(socket -> {
            InputStream in = socket.getInputStream();
            in.read(new byte[4]);
            backendReady.complete(null);
            try {
                int n = in.read();
                backendSaw.complete(new AssertionError("read returned " + n + " instead of failing"));
            } catch (IOException e) {
                backendSaw.complete(e);
            }
        });
        InetSocketAddress listen = Ports.loopback(Ports.free());
        start(Configs.tcp(listen, List.of(backend)), transport);

        Socket client = connect(listen);
        client.getOutputStream().write("ping".getBytes(StandardCharsets.US_ASCII));
        backendReady.get(10, TimeUnit.SECONDS);
        client.setSoLinger(true, 0);
        client.close();
        assertThat(backendSaw.get(10, TimeUnit.SECONDS))
                .isInstanceOf(SocketException.class)
                .hasMessageContaining("reset");
    }

    private Balancer start(BalancerConfig config, Transport transport) throws Exception {
        Balancer balancer = Balancer.start(config, transport, 2);
        toClose.add(balancer);
        return balancer;
    }

    private List<InetSocketAddress> echoBackends(Transport transport, int count) throws Exception {
        EchoServer server = EchoBackends.start(transport, count);
        toClose.add(server);
        return server.addresses();
    }

    /** What a hand-written backend does with each accepted connection. */
    interface Conversation {
        void run(Socket socket) throws IOException;
    }

    /** A plain java.net backend serving each connection on its own thread. */
    private InetSocketAddress javaBackend(Conversation conversation) throws IOException {
        ServerSocket server = new ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress());
        toClose.add(server);
        Thread acceptor = new Thread(() -> {
            while (!server.isClosed()) {
                try {
                    Socket socket = server.accept();
                    Thread worker = new Thread(() -> {
                        try (socket) {
                            conversation.run(socket);
                        } catch (IOException e) {
                            // the test that cares observes it through its own future
                        }
                    });
                    worker.setDaemon(true);
                    worker.start();
                } catch (IOException e) {
                    return;
                }
            }
        }, "test-backend");
        acceptor.setDaemon(true);
        acceptor.start();
        return (InetSocketAddress) server.getLocalSocketAddress();
    }

    private static void sleep(long millis) throws IOException {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(e);
        }
    }

    /** Writes {@code total} seeded random bytes; returns their CRC32. */
    static long writeRandom(OutputStream out, long total, long seed) throws IOException {
        Random random = new Random(seed);
        CRC32 crc = new CRC32();
        byte[] chunk = new byte[1 << 16];
        long left = total;
        while (left > 0) {
            random.nextBytes(chunk);
            int n = (int) Math.min(chunk.length, left);
            crc.update(chunk, 0, n);
            out.write(chunk, 0, n);
            left -= n;
        }
        out.flush();
        return crc.getValue();
    }
}

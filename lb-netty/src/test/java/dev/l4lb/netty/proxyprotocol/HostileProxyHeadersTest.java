package dev.l4lb.netty.proxyprotocol;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Stream;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.RegisterExtension;

import dev.l4lb.core.table.HeaderRejection;
import dev.l4lb.core.table.Outcome;
import dev.l4lb.core.table.PortCounters;
import dev.l4lb.netty.Balancer;
import dev.l4lb.netty.transport.Transport;
import dev.l4lb.netty.echo.EchoServer;
import dev.l4lb.netty.testing.Closer;
import dev.l4lb.netty.testing.Configs;
import dev.l4lb.netty.testing.NoLeaks;
import dev.l4lb.netty.testing.Ports;

/**
 * Hostile PROXY headers from a trusted upstream (issue 15's first torture): the named malformed
 * layouts one by one, each closed and counted under its reason, then ten thousand mutants of valid
 * v1 and v2 headers (a seeded fuzzer: bit flips, boundary bytes, cuts, inserts, rewritten length,
 * family and command fields) and a crowd of headers that stop short, while a well-behaved
 * upstream keeps sending valid traffic. What must hold: every connection ends and is counted once
 * (relayed, or a bad header under one reason), the cut-short ones within the header timeout,
 * valid traffic is served throughout, nothing is logged above DEBUG, no buffer leaks (the leak
 * detector is PARANOID) and the process has as many file descriptors at the end as at the start.
 *
 * <p>{@code -Dl4lb.torture.proxyHeaders=200000 -Dl4lb.torture.seed=N} makes the long form.
 */
@ExtendWith(NoLeaks.class)
class HostileProxyHeadersTest {
    private static final Transport TRANSPORT = Transport.select("auto");
    private static final int MUTANTS = Integer.getInteger("l4lb.torture.proxyHeaders", 10_000);
    private static final long SEED = Long.getLong("l4lb.torture.seed", 20261207L);
    private static final int STALLED = 200;
    private static final Duration HEADER_TIMEOUT = Duration.ofMillis(300);
    /** What a close may take beyond the header timeout on a loaded 2-core machine: not a speed target. */
    private static final Duration SLACK = Duration.ofSeconds(3);
    private static final String REQUEST = "GET /pp HTTP/1.0\r\nHost: test\r\n\r\n";
    private static final byte[] V2_SIGNATURE = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
    private static final byte TCP4 = 0x11;
    private static final byte UDP4 = 0x12;
    private static final byte TCP6 = 0x21;
    private static final byte UNIX_STREAM = 0x31;
    private static final byte PROXY_V2 = 0x21;
    private static final byte PP2_TYPE_NOOP = 0x04;

    @RegisterExtension
    final Closer toClose = new Closer();
    private final ByteArrayOutputStream logged = new ByteArrayOutputStream();
    private PrintStream originalErr;
    private Balancer balancer;
    private InetSocketAddress listen;

    @AfterEach
    void restoreStderr() {
        if (originalErr != null) {
            System.setErr(originalErr);
        }
    }

    /** A layout the spec forbids or that cannot be served, and what l4lb must make of it. */
    record Case(String name, byte[] bytes, boolean fin, HeaderRejection expected) {
    }

    static List<Case> namedCases() {
        byte[] v1 = AcceptProxyProtocolTest.header("v1", "10.1.2.3", 5555, "10.9.9.9", 80);
        byte[] v2 = AcceptProxyProtocolTest.header("v2", "10.1.2.3", 5555, "10.9.9.9", 80);
        byte[] badSignature = v2.clone();
        badSignature[11] = 'X';
        byte[] badVersion = v2.clone();
        badVersion[12] = 0x31; // version 3
        byte[] badCommand = v2.clone();
        badCommand[12] = 0x2F;
        byte[] announces64k = v2(PROXY_V2, TCP4, 0xFFFF, ipv4Block());
        byte[] tlvFilling64k = v2(PROXY_V2, TCP4, 0xFFFF, concat(ipv4Block(), tlv(PP2_TYPE_NOOP, 0xFFFF - 12 - 3, 0xFFFF - 12 - 3)));
        return List.of(
                new Case("v1 cut short, then FIN", Arrays.copyOf(v1, 20), true, HeaderRejection.TRUNCATED),
                new Case("v2 cut short, then FIN", Arrays.copyOf(v2, 20), true, HeaderRejection.TRUNCATED),
                new Case("v1 line over 107 bytes", ("PROXY TCP4 10.1.2.3 10.9.9.9 5555 80" + " ".repeat(100) + "\r\n")
                        .getBytes(StandardCharsets.US_ASCII), false, HeaderRejection.MALFORMED),
                new Case("v1 port over 65535", "PROXY TCP4 10.1.2.3 10.9.9.9 65536 80\r\n".getBytes(StandardCharsets.US_ASCII),
                        false, HeaderRejection.MALFORMED),
                new Case("v1 TCP6 with IPv4 addresses", "PROXY TCP6 10.1.2.3 10.9.9.9 5555 80\r\n".getBytes(StandardCharsets.US_ASCII),
                        false, HeaderRejection.MALFORMED),
                new Case("v2 bad signature", badSignature, false, HeaderRejection.MALFORMED),
                new Case("v2 version 3", badVersion, false, HeaderRejection.MALFORMED),
                new Case("v2 command 0xF", badCommand, false, HeaderRejection.MALFORMED),
                new Case("v2 length 65,535, 100 bytes sent, then FIN", Arrays.copyOf(announces64k, 100), true,
                        HeaderRejection.TRUNCATED),
                new Case("v2 length 65,535, never all sent (times out)", Arrays.copyOf(announces64k, 4000), false,
                        HeaderRejection.TIMEOUT),
                new Case("v2 length 65,535 filled by a NOOP TLV: valid, served", tlvFilling64k, false, null),
                new Case("v2 TCP6 with TCP4's 12-byte address block", v2(PROXY_V2, TCP6, 12, ipv4Block()), false,
                        HeaderRejection.MALFORMED),
                new Case("v2 TCP4 with no address block", v2(PROXY_V2, TCP4, 0, new byte[0]), false, HeaderRejection.MALFORMED),
                new Case("v2 UNIX stream with 12 address bytes", v2(PROXY_V2, UNIX_STREAM, 12, ipv4Block()), false,
                        HeaderRejection.MALFORMED),
                new Case("v2 TLV that overruns the header", v2(PROXY_V2, TCP4, 12 + 3 + 2, concat(ipv4Block(),
                        tlv(PP2_TYPE_NOOP, 100, 2))), false, HeaderRejection.MALFORMED),
                new Case("v2 UDP4 client on a TCP port", v2(PROXY_V2, UDP4, 12, ipv4Block()), false, HeaderRejection.UNSUPPORTED),
                new Case("nothing at all (times out)", new byte[0], false, HeaderRejection.TIMEOUT),
                new Case("v2 signature only (times out)", V2_SIGNATURE, false, HeaderRejection.TIMEOUT));
    }

    @Test
    void everyHostileHeaderIsClosedAndCountedWhileValidTrafficIsServed() throws Exception {
        start();
        long fdsAtStart = openFds();
        captureStderr();
        AtomicBoolean fuzzing = new AtomicBoolean(true);
        ExecutorService clients = Executors.newFixedThreadPool(5);
        try {
            Future<Long> valid = clients.submit(() -> servedWhile(fuzzing));

            // 1. The named layouts, one at a time so each count can be told apart.
            for (Case c : namedCases()) {
                Map<HeaderRejection, Long> before = rejections();
                if (c.expected() == null) {
                    String page = exchange(c.bytes());
                    assertThat(page).as(c.name()).contains("client_address=10.1.2.3");
                    assertThat(rejections()).as(c.name()).isEqualTo(before);
                    continue;
                }
                long took = closeMillis(c.bytes(), c.fin());
                assertThat(took).as("%s: closed within the header timeout", c.name())
                        .isLessThan(HEADER_TIMEOUT.plus(SLACK).toMillis());
                await().atMost(Duration.ofSeconds(10)).alias(c.name())
                        .until(() -> rejections().get(c.expected()) == before.get(c.expected()) + 1);
                assertThat(sum(rejections()) - sum(before)).as(c.name() + ": counted once").isEqualTo(1);
            }

            // 2. Headers that stop short and wait, all at once: each closed by the header timeout.
            Map<HeaderRejection, Long> beforeStalled = rejections();
            Random random = new Random(SEED);
            List<byte[]> bases = bases();
            ExecutorService waiters = Executors.newFixedThreadPool(50);
            try {
                List<Future<Long>> stalled = new ArrayList<>();
                for (int i = 0; i < STALLED; i++) {
                    byte[] base = bases.get(random.nextInt(bases.size()));
                    byte[] prefix = Arrays.copyOf(base, random.nextInt(base.length - 1));
                    stalled.add(waiters.submit(() -> closeMillis(prefix, false)));
                }
                for (Future<Long> took : stalled) {
                    assertThat(took.get(30, TimeUnit.SECONDS)).isLessThan(HEADER_TIMEOUT.plus(SLACK).toMillis());
                }
            } finally {
                waiters.shutdownNow();
            }
            await().atMost(Duration.ofSeconds(10)).until(() ->
                    rejections().get(HeaderRejection.TIMEOUT) - beforeStalled.get(HeaderRejection.TIMEOUT) == STALLED);

            // 3. Mutants of valid headers, each followed by a request and a FIN: relayed or closed.
            List<Future<Integer>> batches = new ArrayList<>();
            int threads = 4;
            for (int t = 0; t < threads; t++) {
                long seed = SEED + 1 + t;
                int count = MUTANTS / threads + (t < MUTANTS % threads ? 1 : 0);
                batches.add(clients.submit(() -> sendMutants(new Random(seed), count)));
            }
            int sent = 0;
            for (Future<Integer> batch : batches) {
                sent += batch.get(10, TimeUnit.MINUTES);
            }
            assertThat(sent).isEqualTo(MUTANTS);
            fuzzing.set(false);
            long validServed = valid.get(1, TimeUnit.MINUTES);
            assertThat(validServed).as("valid connections served throughout").isPositive();

            // Every connection counted exactly once (the first, the named, the stalled, the mutants
            // and the valid ones), and none left open.
            long total = 1 + namedCases().size() + STALLED + MUTANTS + validServed;
            await().atMost(Duration.ofSeconds(20)).until(() ->
                    counters().count(Outcome.OK) + counters().count(Outcome.BAD_PROXY_HEADER) == total);
            await().atMost(Duration.ofSeconds(20)).until(() -> counters().active() == 0);
            assertThat(sum(rejections())).isEqualTo(counters().count(Outcome.BAD_PROXY_HEADER));
            long namedServed = namedCases().stream().filter(c -> c.expected() == null).count();
            long mutantsRelayed = counters().count(Outcome.OK) - 1 - namedServed - validServed;
            long mutantsRejected = MUTANTS - mutantsRelayed;
            assertThat(mutantsRejected).as("mutants rejected").isPositive();
            assertThat(mutantsRelayed).as("mutants still valid, relayed").isPositive();
            // The reasons reach the metrics as they are counted.
            String timeouts = balancer.metrics().scrape().lines()
                    .filter(l -> l.startsWith("l4lb_port_proxy_headers_rejected_total{") && l.contains("reason=\"timeout\""))
                    .findFirst().orElseThrow();
            assertThat(Double.parseDouble(timeouts.substring(timeouts.lastIndexOf(' ') + 1)))
                    .isEqualTo((double) rejections().get(HeaderRejection.TIMEOUT));
            System.out.printf("hostile PROXY headers: %d named, %d stalled, %d mutants (seed %d): %d mutants relayed,"
                            + " %d rejected; all rejections by reason %s; %d valid connections served meanwhile%n",
                    namedCases().size(), STALLED, MUTANTS, SEED, mutantsRelayed, mutantsRejected, rejections(), validServed);
        } finally {
            fuzzing.set(false);
            clients.shutdownNow();
            clients.awaitTermination(30, TimeUnit.SECONDS);
        }
        await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> assertThat(openFds()).isLessThanOrEqualTo(fdsAtStart));
        System.setErr(originalErr);
        assertThat(logged.toString(StandardCharsets.UTF_8).lines()
                .filter(l -> l.contains("WARN") || l.contains("ERROR") || l.contains("Exception")))
                .as("log lines above DEBUG while under attack").isEmpty();
    }

    @Test
    void anUntrustedSenderOfAValidHeaderIsResetAndCounted() throws Exception {
        listen = Ports.loopback(Ports.free());
        EchoServer backend = toClose.add(EchoServer.start(List.of(Ports.loopback(0)), TRANSPORT, 1, true));
        balancer = toClose.add(Balancer.start(Configs.tcp(listen, backend.addresses(), "acceptProxyProtocol: true",
                "trustedUpstreams: [\"10.0.0.0/8\"]"), TRANSPORT, 2));
        byte[] valid = concat(AcceptProxyProtocolTest.header("v2", "10.1.2.3", 5555, "10.9.9.9", 80),
                REQUEST.getBytes(StandardCharsets.US_ASCII));
        for (int i = 0; i < 100; i++) {
            try (Socket client = connect()) {
                client.getOutputStream().write(valid);
                int first = client.getInputStream().read();
                throw new AssertionError("an untrusted upstream got " + (first < 0 ? "a FIN" : "an answer") + ", not a reset");
            } catch (SocketException reset) {
                // "Connection reset", or "Broken pipe" when the reset beat the write: either way RST
            }
        }
        await().atMost(Duration.ofSeconds(10)).until(() -> counters().count(Outcome.UNTRUSTED_UPSTREAM) == 100);
        assertThat(counters().count(Outcome.OK)).isZero();
    }

    /** Connections with a valid header and request, one after the other, until told to stop. */
    private long servedWhile(AtomicBoolean going) throws IOException {
        long served = 0;
        byte[] header = AcceptProxyProtocolTest.header("v2", "10.7.7.7", 7777, "10.9.9.9", 80);
        while (going.get()) {
            try (Socket client = connect()) {
                client.getOutputStream().write(concat(header, REQUEST.getBytes(StandardCharsets.US_ASCII)));
                String page = new String(client.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                assertThat(page).contains("client_address=10.7.7.7");
                served++;
            }
        }
        return served;
    }

    private int sendMutants(Random random, int count) throws IOException {
        List<byte[]> bases = bases();
        byte[] request = REQUEST.getBytes(StandardCharsets.US_ASCII);
        for (int i = 0; i < count; i++) {
            byte[] mutant = mutate(bases.get(random.nextInt(bases.size())), random);
            try (Socket client = connect()) {
                try {
                    client.getOutputStream().write(concat(mutant, request));
                    client.shutdownOutput();
                    drain(client.getInputStream());
                } catch (SocketTimeoutException stuck) {
                    throw new AssertionError("a connection was left open with the mutant " + hex(mutant), stuck);
                } catch (SocketException reset) {
                    // closed while writing or reading: as good as a FIN here
                }
            }
        }
        return count;
    }

    /** Milliseconds from sending {@code bytes} (and a FIN if asked) until the balancer ends the connection. */
    private long closeMillis(byte[] bytes, boolean fin) throws IOException {
        try (Socket client = connect()) {
            long start = System.nanoTime();
            try {
                client.getOutputStream().write(bytes);
                if (fin) {
                    client.shutdownOutput();
                }
                drain(client.getInputStream());
            } catch (SocketException reset) {
                // ended all the same
            }
            return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        }
    }

    /** The page the backend answers {@code header} and a request with. */
    private String exchange(byte[] header) throws IOException {
        try (Socket client = connect()) {
            client.getOutputStream().write(concat(header, REQUEST.getBytes(StandardCharsets.US_ASCII)));
            return new String(client.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    private static void drain(InputStream in) throws IOException {
        byte[] buffer = new byte[8192];
        while (in.read(buffer) >= 0) {
            // until the balancer (or the backend behind it) ends the connection
        }
    }

    /** Valid headers of every shape the fuzzer starts from. */
    private static List<byte[]> bases() {
        return List.of(
                AcceptProxyProtocolTest.header("v1", "10.1.2.3", 5555, "10.9.9.9", 80),
                AcceptProxyProtocolTest.header("v1", "2001:db8::7", 5555, "2001:db8::1", 443),
                "PROXY UNKNOWN\r\n".getBytes(StandardCharsets.US_ASCII),
                AcceptProxyProtocolTest.header("v2", "10.1.2.3", 5555, "10.9.9.9", 80),
                AcceptProxyProtocolTest.header("v2", "2001:db8::7", 5555, "2001:db8::1", 443),
                v2(PROXY_V2, TCP4, 12 + 3 + 11 + 3 + 2, concat(ipv4Block(), tlv((byte) 0x02, 11, 11), tlv((byte) 0x01, 2, 2))),
                v2((byte) 0x20, (byte) 0x00, 0, new byte[0])); // LOCAL
    }

    /** One to three mutations of a copy of {@code base}. */
    private static byte[] mutate(byte[] base, Random random) {
        byte[] b = base.clone();
        int rounds = 1 + random.nextInt(3);
        byte[] interesting = {0x00, (byte) 0xFF, 0x7F, (byte) 0x80, '\r', '\n', ' ', ':', '.', '0', '9', 0x11, 0x21};
        for (int r = 0; r < rounds && b.length > 0; r++) {
            int at = random.nextInt(b.length);
            switch (random.nextInt(9)) {
                case 0 -> b[at] ^= (byte) (1 << random.nextInt(8));
                case 1 -> b[at] = interesting[random.nextInt(interesting.length)];
                case 2 -> b = Arrays.copyOf(b, at);
                case 3 -> {
                    byte[] inserted = new byte[1 + random.nextInt(8)];
                    random.nextBytes(inserted);
                    b = concat(Arrays.copyOf(b, at), inserted, Arrays.copyOfRange(b, at, b.length));
                }
                case 4 -> b = concat(Arrays.copyOf(b, at), Arrays.copyOfRange(b, Math.min(b.length, at + 1 + random.nextInt(8)), b.length));
                case 5 -> b = concat(Arrays.copyOf(b, at), Arrays.copyOfRange(b, at / 2, b.length));
                case 6 -> {
                    if (b.length >= 16) {
                        int[] lengths = {0, 1, 11, 12, 36, 215, 216, 0xFFFF, random.nextInt(0x10000)};
                        int length = lengths[random.nextInt(lengths.length)];
                        b[14] = (byte) (length >> 8);
                        b[15] = (byte) length;
                    }
                }
                case 7 -> {
                    if (b.length >= 14) {
                        b[13] = (byte) random.nextInt(256);
                    }
                }
                default -> {
                    if (b.length >= 13) {
                        b[12] = (byte) random.nextInt(256);
                    }
                }
            }
        }
        return b;
    }

    private void start() throws Exception {
        listen = Ports.loopback(Ports.free());
        EchoServer backend = toClose.add(EchoServer.start(List.of(Ports.loopback(0)), TRANSPORT, 1, true));
        balancer = toClose.add(Balancer.start(Configs.tcp(listen, backend.addresses(), "acceptProxyProtocol: true",
                "trustedUpstreams: [\"127.0.0.1/32\"]", "acceptProxyProtocolTimeout: " + HEADER_TIMEOUT.toMillis() + "ms",
                "proxyProtocol: v2"), TRANSPORT, 2));
        // One connection first, so that what the first one creates (pools, loops' fds) is there at the start.
        assertThat(exchange(AcceptProxyProtocolTest.header("v1", "10.1.2.3", 5555, "10.9.9.9", 80)))
                .contains("client_address=10.1.2.3");
        await().atMost(Duration.ofSeconds(10)).until(() -> counters().count(Outcome.OK) == 1 && counters().active() == 0);
    }

    private void captureStderr() {
        originalErr = System.err;
        PrintStream tee = new PrintStream(new java.io.OutputStream() {
            @Override
            public void write(int b) {
                originalErr.write(b);
                synchronized (logged) {
                    logged.write(b);
                }
            }

            @Override
            public void write(byte[] bytes, int off, int len) {
                originalErr.write(bytes, off, len);
                synchronized (logged) {
                    logged.write(bytes, off, len);
                }
            }
        }, true, StandardCharsets.UTF_8);
        System.setErr(tee);
    }

    private Socket connect() throws IOException {
        Socket socket = new Socket();
        socket.connect(listen, 5000);
        socket.setSoTimeout(10_000);
        return socket;
    }

    private PortCounters counters() {
        return balancer.snapshot().routes().get(0).counters();
    }

    private Map<HeaderRejection, Long> rejections() {
        Map<HeaderRejection, Long> counts = new EnumMap<>(HeaderRejection.class);
        for (HeaderRejection reason : HeaderRejection.values()) {
            counts.put(reason, counters().headersRejected(reason));
        }
        return counts;
    }

    private static long sum(Map<HeaderRejection, Long> counts) {
        return counts.values().stream().mapToLong(Long::longValue).sum();
    }

    private static long openFds() throws IOException {
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            return fds.count();
        }
    }

    /** A v2 header: signature, version and command, family, the given length field, then {@code rest}. */
    private static byte[] v2(byte versionCommand, byte family, int length, byte[] rest) {
        ByteBuffer b = ByteBuffer.allocate(16 + rest.length);
        b.put(V2_SIGNATURE).put(versionCommand).put(family).putShort((short) length).put(rest);
        return b.array();
    }

    /** 10.1.2.3:5555 to 10.9.9.9:80, as a TCP4 or UDP4 address block. */
    private static byte[] ipv4Block() {
        return ByteBuffer.allocate(12).put(new byte[] {10, 1, 2, 3}).put(new byte[] {10, 9, 9, 9})
                .putShort((short) 5555).putShort((short) 80).array();
    }

    /** A TLV whose length field says {@code length} and which carries {@code actual} bytes. */
    private static byte[] tlv(byte type, int length, int actual) {
        ByteBuffer b = ByteBuffer.allocate(3 + actual);
        b.put(type).putShort((short) length);
        for (int i = 0; i < actual; i++) {
            b.put((byte) ('a' + i % 26));
        }
        return b.array();
    }

    private static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] part : parts) {
            out.writeBytes(part);
        }
        return out.toByteArray();
    }

    private static String hex(byte[] bytes) {
        StringBuilder s = new StringBuilder();
        for (byte b : bytes) {
            s.append(String.format("%02x", b));
        }
        return s.toString();
    }
}

package dev.l4lb.netty.echo;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import dev.l4lb.core.model.Addresses;
import dev.l4lb.netty.transport.BindFailure;
import dev.l4lb.netty.transport.Transport;
import dev.l4lb.netty.testing.Closer;
import dev.l4lb.netty.testing.NoLeaks;
import dev.l4lb.netty.testing.Ports;
import dev.l4lb.netty.testing.Sockets;
import dev.l4lb.netty.testing.Transports;

/**
 * The test backends' own edges: connections that end before saying anything, the PROXY mode, and
 * the UDP backends (on every transport here, since each has its own datagram read path).
 */
@ExtendWith(NoLeaks.class)
class EchoServerTest {
    @RegisterExtension
    final Closer toClose = new Closer();

    @Test
    void aFinBeforeAnyByteIsAnsweredWithAFin() throws Exception {
        InetSocketAddress address = start(false);
        try (Socket client = Sockets.connect(address)) {
            client.setSoTimeout(5000);
            client.shutdownOutput(); // what a TCP health check through a proxy looks like
            assertThat(client.getInputStream().read()).isEqualTo(-1);
        }
    }

    @Test
    void inProxyModeAHeaderThenFinIsAnsweredWithAFin() throws Exception {
        InetSocketAddress address = start(true);
        try (Socket client = Sockets.connect(address)) {
            client.setSoTimeout(5000);
            client.getOutputStream().write("PROXY TCP4 10.1.2.3 10.9.9.9 5555 80\r\n".getBytes(StandardCharsets.US_ASCII));
            client.shutdownOutput();
            assertThat(client.getInputStream().read()).isEqualTo(-1);
        }
    }

    @Test
    void inProxyModeAConnectionWithoutAHeaderIsClosed() throws Exception {
        InetSocketAddress address = start(true);
        try (Socket client = Sockets.connect(address)) {
            client.setSoTimeout(5000);
            client.getOutputStream().write("GET / HTTP/1.0\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            assertThat(Sockets.readOrEnd(client)).isEqualTo(-1);
        }
    }

    static Stream<Transport> transports() {
        return Transports.available().stream();
    }

    @ParameterizedTest
    @MethodSource("transports")
    void udpWhoamiNamesTheBackendAndTheClient(Transport transport) throws Exception {
        InetSocketAddress backend = startUdp(transport, Ports.loopback(0));
        try (DatagramSocket client = udpClient(InetAddress.getLoopbackAddress())) {
            DatagramPacket answer = exchange(client, backend, ascii("whoami"));
            assertThat(text(answer)).isEqualTo("backend=" + Addresses.format(backend)
                    + " client=" + Addresses.format((InetSocketAddress) client.getLocalSocketAddress()));
            assertThat(answer.getSocketAddress()).as("answered from the socket asked").isEqualTo(backend);
        }
    }

    @ParameterizedTest
    @MethodSource("transports")
    void udpTheLargestIpv4DatagramComesBackWhole(Transport transport) throws Exception {
        // Netty's datagram channels read 2,048 bytes by default and cut the rest silently.
        InetSocketAddress backend = startUdp(transport, Ports.loopback(0));
        byte[] payload = randomBytes(65_507);
        try (DatagramSocket client = udpClient(InetAddress.getLoopbackAddress())) {
            assertCameBackWhole(exchange(client, backend, payload), payload);
        }
    }

    @ParameterizedTest
    @MethodSource("transports")
    void udpOneByteAndAlmostWhoamiAreEchoed(Transport transport) throws Exception {
        InetSocketAddress backend = startUdp(transport, Ports.loopback(0));
        try (DatagramSocket client = udpClient(InetAddress.getLoopbackAddress())) {
            assertThat(payloadOf(exchange(client, backend, new byte[] {42}))).containsExactly(42);
            assertThat(text(exchange(client, backend, ascii("whoami\n")))).isEqualTo("whoami\n");
            assertThat(text(exchange(client, backend, ascii("WHOAMI")))).isEqualTo("WHOAMI");
        }
    }

    @ParameterizedTest
    @MethodSource("transports")
    void udpTwoClientsGetTheirOwnAnswers(Transport transport) throws Exception {
        InetSocketAddress backend = startUdp(transport, Ports.loopback(0));
        try (DatagramSocket a = udpClient(InetAddress.getLoopbackAddress());
             DatagramSocket b = udpClient(InetAddress.getLoopbackAddress())) {
            send(a, backend, ascii("from a"));
            send(b, backend, ascii("from b"));
            send(a, backend, ascii("whoami"));
            send(b, backend, ascii("whoami"));
            assertThat(text(receive(a))).isEqualTo("from a");
            assertThat(text(receive(b))).isEqualTo("from b");
            assertThat(text(receive(a))).endsWith(" client=" + Addresses.format((InetSocketAddress) a.getLocalSocketAddress()));
            assertThat(text(receive(b))).endsWith(" client=" + Addresses.format((InetSocketAddress) b.getLocalSocketAddress()));
        }
    }

    @ParameterizedTest
    @MethodSource("transports")
    void udpOverIpv6(Transport transport) throws Exception {
        Assumptions.assumeTrue(Ports.ipv6LoopbackUp(), "no IPv6 loopback on this machine");
        InetAddress ipv6Loopback = InetAddress.getByName("::1");
        InetSocketAddress backend = startUdp(transport, new InetSocketAddress(ipv6Loopback, 0));
        try (DatagramSocket client = udpClient(ipv6Loopback)) {
            assertThat(text(exchange(client, backend, ascii("whoami"))))
                    .isEqualTo("backend=[::1]:" + backend.getPort() + " client=[::1]:" + client.getLocalPort());
            byte[] largest = randomBytes(65_527); // 65,535 less the UDP header: IPv6 has no header in its payload length
            assertCameBackWhole(exchange(client, backend, largest), largest);
        }
    }

    @Test
    void udpServesEveryAddressItWasGiven() throws Exception {
        EchoServer server = toClose.add(EchoServer.startUdp(List.of(Ports.loopback(0), Ports.loopback(0)), Transport.select("auto"), 2));
        assertThat(server.addresses()).hasSize(2).allSatisfy(a -> assertThat(a.getPort()).isPositive());
        try (DatagramSocket client = udpClient(InetAddress.getLoopbackAddress())) {
            for (InetSocketAddress backend : server.addresses()) {
                assertThat(text(exchange(client, backend, ascii("whoami")))).startsWith("backend=" + Addresses.format(backend) + " ");
            }
        }
    }

    @Test
    void udpPortInUseIsABindFailure() throws Exception {
        try (DatagramSocket taken = udpClient(InetAddress.getLoopbackAddress())) {
            InetSocketAddress busy = (InetSocketAddress) taken.getLocalSocketAddress();
            assertThatThrownBy(() -> EchoServer.startUdp(List.of(Ports.loopback(0), busy), Transport.select("auto"), 1))
                    .isInstanceOf(BindFailure.class)
                    .hasMessageContaining(Addresses.format(busy));
        }
    }

    private InetSocketAddress startUdp(Transport transport, InetSocketAddress address) throws Exception {
        EchoServer server = toClose.add(EchoServer.startUdp(List.of(address), transport, 1));
        return server.addresses().get(0);
    }

    private static DatagramSocket udpClient(InetAddress loopback) throws IOException {
        DatagramSocket socket = new DatagramSocket(new InetSocketAddress(loopback, 0));
        socket.setSoTimeout(5000); // a lost datagram fails the test instead of hanging it
        return socket;
    }

    private static DatagramPacket exchange(DatagramSocket client, InetSocketAddress backend, byte[] payload) throws IOException {
        send(client, backend, payload);
        return receive(client);
    }

    private static void send(DatagramSocket client, InetSocketAddress backend, byte[] payload) throws IOException {
        client.send(new DatagramPacket(payload, payload.length, backend));
    }

    private static DatagramPacket receive(DatagramSocket client) throws IOException {
        DatagramPacket packet = new DatagramPacket(new byte[65_536], 65_536);
        client.receive(packet);
        return packet;
    }

    /** Lengths, then the first differing byte: a failure names what is wrong without 64 KiB of numbers. */
    private static void assertCameBackWhole(DatagramPacket answer, byte[] sent) {
        assertThat(answer.getLength()).as("bytes that came back").isEqualTo(sent.length);
        assertThat(Arrays.mismatch(payloadOf(answer), sent)).as("index of the first byte that differs").isEqualTo(-1);
    }

    private static byte[] payloadOf(DatagramPacket packet) {
        return Arrays.copyOfRange(packet.getData(), packet.getOffset(), packet.getOffset() + packet.getLength());
    }

    private static String text(DatagramPacket packet) {
        return new String(packet.getData(), packet.getOffset(), packet.getLength(), StandardCharsets.US_ASCII);
    }

    private static byte[] ascii(String text) {
        return text.getBytes(StandardCharsets.US_ASCII);
    }

    private static byte[] randomBytes(int length) {
        byte[] bytes = new byte[length];
        new Random(length).nextBytes(bytes);
        return bytes;
    }

    private InetSocketAddress start(boolean proxyProtocol) throws Exception {
        EchoServer server = EchoServer.start(List.of(Ports.loopback(0)), Transport.select("auto"), 1, proxyProtocol);
        toClose.add(server);
        return server.addresses().get(0);
    }
}

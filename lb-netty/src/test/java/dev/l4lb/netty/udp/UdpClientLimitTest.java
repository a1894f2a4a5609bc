package dev.l4lb.netty.udp;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.RegisterExtension;

import dev.l4lb.core.model.Addresses;
import dev.l4lb.core.table.DatagramDrop;
import dev.l4lb.core.table.Outcome;
import dev.l4lb.core.table.PortCounters;
import dev.l4lb.netty.Balancer;
import dev.l4lb.netty.testing.Closer;
import dev.l4lb.netty.testing.Configs;
import dev.l4lb.netty.testing.EchoBackends;
import dev.l4lb.netty.testing.NoLeaks;
import dev.l4lb.netty.testing.Ports;
import dev.l4lb.netty.transport.Transport;

/** Per-client limits on a UDP port: a session is what a client holds, as a connection is on TCP. */
@ExtendWith(NoLeaks.class)
class UdpClientLimitTest {
    private static final Transport TRANSPORT = Transport.select("auto");

    @RegisterExtension
    final Closer toClose = new Closer();

    @Test
    void aClientOverItsSessionsIsDroppedWhileAnotherIsServedAndGetsItsSlotBack() throws Exception {
        List<InetSocketAddress> backends = toClose.add(EchoBackends.startUdp(TRANSPORT, 1)).addresses();
        InetSocketAddress listen = Ports.freeUdp();
        Balancer balancer = toClose.add(Balancer.start(Configs.parse("""
                services:
                  - name: test/udp
                    ports:
                      - name: p
                        protocol: UDP
                        listen: ["%s"]
                        idleTimeout: 500ms
                        limits: {maxConnectionsPerClient: 1}
                        endpoints: ["%s"]
                """.formatted(Addresses.format(listen), Addresses.format(backends.get(0)))), TRANSPORT, 2));

        try (DatagramSocket first = client("127.0.0.1"); DatagramSocket second = client("127.0.0.1");
             DatagramSocket other = client("127.0.0.2")) {
            assertThat(exchange(first, listen, "a")).isNotNull();
            // A new source port is a new session of the same client: over its one, dropped.
            assertThat(exchange(second, listen, "b")).isNull();
            assertThat(exchange(other, listen, "c")).isNotNull();
            PortCounters counters = balancer.snapshot().routes().get(0).counters();
            assertThat(counters.count(Outcome.REFUSED_CLIENT_CONNECTIONS)).isEqualTo(1);
            assertThat(counters.dropped(DatagramDrop.REFUSED)).isEqualTo(1);
            // Once the first session has idled out, the client's slot is back.
            Thread.sleep(1500);
            assertThat(exchange(second, listen, "d")).isNotNull();
        }
    }

    private static DatagramSocket client(String ip) throws IOException {
        DatagramSocket socket = new DatagramSocket(new InetSocketAddress(InetAddress.getByName(ip), 0));
        socket.setSoTimeout(1000);
        return socket;
    }

    /** The answer, or null when none came within the socket's timeout. */
    private static String exchange(DatagramSocket socket, InetSocketAddress to, String payload) throws IOException {
        byte[] bytes = payload.getBytes(StandardCharsets.UTF_8);
        socket.send(new DatagramPacket(bytes, bytes.length, to));
        DatagramPacket answer = new DatagramPacket(new byte[2048], 2048);
        try {
            socket.receive(answer);
            return new String(answer.getData(), 0, answer.getLength(), StandardCharsets.UTF_8);
        } catch (SocketTimeoutException e) {
            return null;
        }
    }
}

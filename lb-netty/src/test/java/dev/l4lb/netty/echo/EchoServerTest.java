package dev.l4lb.netty.echo;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.RegisterExtension;

import dev.l4lb.netty.Transport;
import dev.l4lb.netty.testing.Closer;
import dev.l4lb.netty.testing.NoLeaks;
import dev.l4lb.netty.testing.Ports;
import dev.l4lb.netty.testing.Sockets;

/** The test backends' own edges: connections that end before saying anything, and the PROXY mode. */
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

    private InetSocketAddress start(boolean proxyProtocol) throws Exception {
        EchoServer server = EchoServer.start(List.of(Ports.loopback(0)), Transport.select("auto"), 1, proxyProtocol);
        toClose.add(server);
        return server.addresses().get(0);
    }
}

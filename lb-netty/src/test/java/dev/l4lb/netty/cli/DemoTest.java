package dev.l4lb.netty.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.ConnectException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import dev.l4lb.core.config.BalancerConfig;
import dev.l4lb.netty.transport.Transport;
import dev.l4lb.netty.testing.Configs;
import dev.l4lb.netty.testing.NoLeaks;
import dev.l4lb.netty.testing.Ports;
import dev.l4lb.netty.testing.RawHttp;

/** What a new user sees with {@code ./lb demo}: the embedded config, three backends, round-robin. */
@ExtendWith(NoLeaks.class)
class DemoTest {

    @Test
    void theDemoServesRoundRobinOverThreeBackendsAndStopsCleanly() throws Exception {
        BalancerConfig config = Demo.embeddedConfig();
        InetSocketAddress front = config.services().get(0).ports().get(0).listen().get(0);
        assertThat(front).isEqualTo(new InetSocketAddress(InetAddress.getByName("127.0.0.1"), 8080));

        Demo demo = Demo.start(config, Transport.select("auto"), 2);
        List<String> answered = new ArrayList<>();
        try {
            for (int i = 0; i < 6; i++) {
                String page = RawHttp.get(front, "/demo");
                assertThat(page).startsWith("HTTP/1.0 200 OK").contains("client_address=127.0.0.1", "command=GET",
                        "request_uri=http://test/demo");
                answered.add(RawHttp.backendOf(page));
            }
        } finally {
            demo.close();
        }
        assertThat(answered).containsExactly("127.0.0.1:9001", "127.0.0.1:9002", "127.0.0.1:9003",
                "127.0.0.1:9001", "127.0.0.1:9002", "127.0.0.1:9003");
        // Gone after shutdown: the front and the backends.
        for (int port : new int[] {8080, 9001, 9002, 9003}) {
            assertThatThrownBy(() -> new Socket(InetAddress.getByName("127.0.0.1"), port).close())
                    .as("port %d after shutdown", port)
                    .isInstanceOf(ConnectException.class);
        }
    }

    @Test
    void aDemoConfigWithAUdpPortGetsUdpEchoBackends() throws Exception {
        int tcp = Ports.free();
        int backend = Ports.free();
        BalancerConfig config = Configs.parse("""
                services:
                  - name: demo/both
                    ports:
                      - name: http
                        listen: ["127.0.0.1:%1$d"]
                        endpoints: ["127.0.0.1:%2$d"]
                      - name: udp
                        protocol: UDP
                        listen: ["127.0.0.1:%1$d"]
                        endpoints: ["127.0.0.1:%2$d"]
                """.formatted(tcp, backend));
        try (Demo demo = Demo.start(config, Transport.select("auto"), 1);
             DatagramSocket client = new DatagramSocket(Ports.loopback(0))) {
            assertThat(RawHttp.backendOf(RawHttp.get(Ports.loopback(tcp), "/"))).isEqualTo("127.0.0.1:" + backend);
            client.setSoTimeout(2000);
            byte[] whoami = "whoami".getBytes(StandardCharsets.US_ASCII);
            client.send(new DatagramPacket(whoami, whoami.length, Ports.loopback(tcp)));
            DatagramPacket answer = new DatagramPacket(new byte[512], 512);
            client.receive(answer);
            assertThat(new String(answer.getData(), 0, answer.getLength(), StandardCharsets.US_ASCII))
                    .startsWith("backend=127.0.0.1:" + backend + " ");
        }
    }
}

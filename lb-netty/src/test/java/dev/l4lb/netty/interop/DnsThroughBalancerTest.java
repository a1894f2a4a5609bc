package dev.l4lb.netty.interop;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import dev.l4lb.core.model.Addresses;
import dev.l4lb.core.table.Outcome;
import dev.l4lb.netty.Balancer;
import dev.l4lb.netty.transport.Transport;
import dev.l4lb.netty.testing.Closer;
import dev.l4lb.netty.testing.Configs;
import dev.l4lb.netty.testing.NoLeaks;
import dev.l4lb.netty.testing.PeerProcess;
import dev.l4lb.netty.testing.Ports;

/**
 * The most common UDP service there is, with real parts: dig asks a real DNS server (dnsmasq,
 * serving one A record) through a UDP service port of the balancer, and gets the record.
 */
@ExtendWith(NoLeaks.class)
class DnsThroughBalancerTest {
    private static final Transport TRANSPORT = Transport.select("auto");

    @RegisterExtension
    final Closer toClose = new Closer();
    @TempDir
    Path dir;

    @Test
    void digGetsTheRecordThroughTheBalancer() throws Exception {
        Path dig = PeerProcess.executable("dig");
        InetSocketAddress dnsmasqAt = Ports.loopback(Ports.free());
        PeerProcess dnsmasq = toClose.add(PeerProcess.dnsmasq(dir, dnsmasqAt, "web.shop.svc.cluster.local,10.96.7.8"));
        InetSocketAddress service = Ports.freeUdp();
        Balancer balancer = toClose.add(Balancer.start(Configs.parse("""
                services:
                  - name: kube-system/kube-dns
                    ports:
                      - name: dns
                        protocol: UDP
                        listen: ["%s"]
                        endpoints: ["%s"]
                """.formatted(Addresses.format(service), Addresses.format(dnsmasqAt))), TRANSPORT, 1));

        for (int query = 0; query < 3; query++) {
            String answer = run(dig.toString(), "@" + service.getAddress().getHostAddress(), "-p",
                    Integer.toString(service.getPort()), "+notcp", "+tries=1", "+time=2", "web.shop.svc.cluster.local", "A");
            assertThat(answer).as("dig's answer").contains("status: NOERROR")
                    .containsPattern("web\\.shop\\.svc\\.cluster\\.local\\.\\s+\\d+\\s+IN\\s+A\\s+10\\.96\\.7\\.8")
                    .contains("SERVER: " + service.getAddress().getHostAddress() + "#" + service.getPort());
        }
        // Each dig is a client port of its own: three sessions, and dnsmasq saw all three queries.
        assertThat(balancer.snapshot().routes().get(0).counters().count(Outcome.OK)).isEqualTo(3);
        assertThat(dnsmasq.lines()).filteredOn(l -> l.contains("query[A] web.shop.svc.cluster.local")).hasSize(3);
    }

    private static String run(String... command) throws IOException, InterruptedException {
        Process process = new ProcessBuilder(List.of(command)).redirectErrorStream(true).start();
        byte[] out = process.getInputStream().readAllBytes();
        assertThat(process.waitFor(20, TimeUnit.SECONDS)).as("dig exits").isTrue();
        String text = new String(out, StandardCharsets.UTF_8);
        assertThat(process.exitValue()).as("dig's exit status; it printed:\n" + text).isZero();
        return text;
    }
}

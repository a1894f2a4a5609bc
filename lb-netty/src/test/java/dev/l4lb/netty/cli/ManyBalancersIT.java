package dev.l4lb.netty.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.l4lb.core.model.Addresses;
import dev.l4lb.netty.echo.EchoServer;
import dev.l4lb.netty.testing.EchoBackends;
import dev.l4lb.netty.testing.LbJar;
import dev.l4lb.netty.testing.Ports;
import dev.l4lb.netty.testing.RawHttp;
import dev.l4lb.netty.transport.Transport;

/**
 * Several standalone balancers that agree (issue 19): two {@code lb run} processes, each with its
 * own config file listing the same endpoints in a different order under {@code scheduler: mh},
 * send each of 1,000 distinct client addresses to the same backend, as a router spreading one VIP
 * over both (ECMP) needs. The clients bind 127.0.x.y source addresses; the echo page names the
 * backend that answered.
 *
 * <p>This checks the whole path across processes (config parsing, eligibility, the client hash).
 * It does not by itself catch the list-order tie-breaking {@code MaglevSchedulerTest} guards
 * against: before the fix, reversing 7 endpoints changed only about 25 of 65,537 slots, and these
 * 1,000 clients passed through none of them.
 */
class ManyBalancersIT {
    private static final int CLIENTS = 1_000;

    @Test
    void twoProcessesWithEndpointsListedInDifferentOrdersSendEachClientToTheSameBackend(@TempDir Path dir)
            throws Exception {
        try (EchoServer backends = EchoBackends.start(Transport.select("auto"), 7)) {
            List<InetSocketAddress> endpoints = new ArrayList<>(backends.addresses());
            List<InetSocketAddress> reversed = new ArrayList<>(endpoints);
            Collections.reverse(reversed);
            List<InetSocketAddress> shuffled = new ArrayList<>(endpoints);
            Collections.shuffle(shuffled, new java.util.Random(19));

            InetSocketAddress first = Ports.loopback(Ports.free());
            InetSocketAddress second = Ports.loopback(Ports.free());
            Process one = LbJar.run(write(dir, "one.yaml", first, reversed), dir.resolve("one.log"));
            try {
                Process two = LbJar.run(write(dir, "two.yaml", second, shuffled), dir.resolve("two.log"));
                try {
                    Map<String, Integer> perBackend = new HashMap<>();
                    for (int i = 0; i < CLIENTS; i++) {
                        InetAddress client = InetAddress.getByAddress(new byte[] {127, 0, (byte) (1 + i / 250),
                                (byte) (1 + i % 250)});
                        String viaOne = RawHttp.backendOf(RawHttp.get(first, "/", client));
                        String viaTwo = RawHttp.backendOf(RawHttp.get(second, "/", client));
                        assertThat(viaTwo).as("client %s through the second balancer", client.getHostAddress())
                                .isEqualTo(viaOne);
                        perBackend.merge(viaOne, 1, Integer::sum);
                    }
                    // Agreement is no accident of every client going to one backend.
                    assertThat(perBackend).as("clients per backend").hasSize(endpoints.size());
                    assertThat(perBackend.values()).allSatisfy(n -> assertThat(n).isGreaterThan(CLIENTS / 20));
                } finally {
                    two.destroy();
                    two.waitFor();
                }
            } finally {
                one.destroy();
                one.waitFor();
            }
        }
    }

    private static Path write(Path dir, String name, InetSocketAddress listen, List<InetSocketAddress> endpoints)
            throws Exception {
        String yaml = """
                admin: {metrics: "%s", healthz: "%s"}
                services:
                  - name: test/svc
                    ports:
                      - listen: ["%s"]
                        scheduler: mh
                        endpoints: [%s]
                """.formatted(Addresses.format(Ports.loopback(Ports.free())), Addresses.format(Ports.loopback(Ports.free())),
                Addresses.format(listen),
                String.join(", ", endpoints.stream().map(e -> "\"" + Addresses.format(e) + "\"").toList()));
        return Files.writeString(dir.resolve(name), yaml);
    }
}

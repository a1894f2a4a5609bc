package dev.l4lb.netty.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.search.Search;
import io.netty.channel.EventLoopGroup;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import dev.l4lb.core.table.ServiceSnapshot;
import dev.l4lb.netty.transport.AcceptErrors;
import dev.l4lb.netty.transport.ListenerPause;
import dev.l4lb.netty.tcp.DescriptorBudget;
import dev.l4lb.netty.transport.Transport;
import dev.l4lb.netty.testing.Configs;

/** Meters follow the snapshot: bound once, kept while their port or endpoint stays, gone with it. */
class BalancerMetricsTest {
    private final EventLoopGroup loops = Transport.NIO.newGroup(1, "metrics-test");
    private final BalancerMetrics metrics = new BalancerMetrics(loops, () -> 0, () -> 0, new AcceptErrors("test", new ListenerPause()), new DescriptorBudget(1000, List::of, new ListenerPause()));

    @AfterEach
    void close() {
        metrics.close();
        loops.shutdownGracefully(0, 0, TimeUnit.SECONDS).syncUninterruptibly();
    }

    @Test
    void aReloadKeepsTheSeriesOfWhatStaysAndRemovesWhatGoes() {
        ServiceSnapshot first = snapshot(10800, ServiceSnapshot.empty(), "127.0.0.1:9001", "127.0.0.1:9002");
        metrics.bind(first);
        Gauge kept = endpointGauge("127.0.0.1:9002");

        metrics.bind(snapshot(10800, first, "127.0.0.1:9002", "127.0.0.1:9003"));

        assertThat(endpointGauge("127.0.0.1:9002")).isSameAs(kept);
        assertThat(Search.in(metrics.registry()).tag("endpoint", "127.0.0.1:9001").meters()).isEmpty();
        assertThat(Search.in(metrics.registry()).tag("endpoint", "127.0.0.1:9003").meters()).isNotEmpty();
        assertThat(metrics.scrape()).doesNotContain("127.0.0.1:9001").contains("127.0.0.1:9003");
    }

    @Test
    void aClientIpTableRebuiltForANewTimeoutIsTheOneTheGaugeReads() throws Exception {
        ServiceSnapshot first = snapshot(10800, ServiceSnapshot.empty(), "127.0.0.1:9001");
        metrics.bind(first);
        ServiceSnapshot second = snapshot(60, first, "127.0.0.1:9001");
        metrics.bind(second);

        // One client picked through the new snapshot's scheduler: an entry in the new table only.
        second.routes().get(0).scheduler().pick(InetAddress.getByName("192.0.2.1"));

        assertThat(metrics.registry().get("l4lb.affinity.entries").gauge().value()).isEqualTo(1.0);
    }

    private Gauge endpointGauge(String endpoint) {
        return metrics.registry().get("l4lb.endpoint.connections.active").tag("endpoint", endpoint).gauge();
    }

    private static ServiceSnapshot snapshot(int timeout, ServiceSnapshot previous, String... endpoints) {
        String yaml = """
                services:
                  - name: test/svc
                    ports:
                      - name: p
                        listen: ["127.0.0.1:18080"]
                        sessionAffinity: ClientIP
                        sessionAffinityTimeoutSeconds: %d
                        endpoints: [%s]
                """.formatted(timeout, String.join(", ", Arrays.stream(endpoints).map(e -> "\"" + e + "\"").toList()));
        return ServiceSnapshot.build(Configs.parse(yaml).services(), previous);
    }
}

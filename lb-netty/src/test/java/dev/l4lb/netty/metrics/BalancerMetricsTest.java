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

import dev.l4lb.core.health.EndpointHealth;
import dev.l4lb.core.model.HealthPolicy;
import dev.l4lb.core.table.Route;
import dev.l4lb.core.table.ServiceSnapshot;
import dev.l4lb.netty.transport.AcceptErrors;
import dev.l4lb.netty.transport.ListenerPause;
import dev.l4lb.netty.tcp.DescriptorBudget;
import dev.l4lb.netty.transport.Transport;
import dev.l4lb.netty.testing.Configs;
import dev.l4lb.netty.testing.HealthConfigs;

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

    @Test
    void healthSeriesReadTheEndpointsStateAndGoWithTheEndpoint() {
        ServiceSnapshot first = snapshot(10800, HealthConfigs.CHECK_AND_OUTLIER, ServiceSnapshot.empty(), "127.0.0.1:9001", "127.0.0.1:9002");
        first.activate();
        metrics.bind(first);
        String labels = "port=\"p\",protocol=\"TCP\",service=\"test/svc\"";
        String one = "endpoint=\"127.0.0.1:9001\"," + labels;
        String two = "endpoint=\"127.0.0.1:9002\"," + labels;
        assertThat(metrics.scrape()).contains("l4lb_endpoint_healthy{" + one + "} 1.0", "l4lb_port_fail_open{" + labels + "} 0.0",
                "l4lb_port_fail_open_entries_total{" + labels + "} 0.0");

        Route route = first.routes().get(0);
        EndpointHealth down = route.backends().get(0).counters().health();
        down.checkPassed(1);
        down.checkFailed(1, "connect refused");
        EndpointHealth ejected = route.backends().get(1).counters().health();
        ejected.connectFailed("connect timed out", System.nanoTime());

        assertThat(metrics.scrape()).contains(
                "l4lb_endpoint_healthy{" + one + "} 0.0",
                "l4lb_endpoint_healthy{" + two + "} 0.0",
                checks(one, "pass") + " 1.0",
                checks(one, "fail") + " 1.0",
                "l4lb_outlier_ejections_total{" + two + "} 1.0",
                "l4lb_outlier_ejections_total{" + one + "} 0.0",
                "l4lb_port_fail_open{" + labels + "} 1.0",
                "l4lb_port_fail_open_entries_total{" + labels + "} 1.0");

        // The series stay with the endpoint through a reload, and leave with it.
        ServiceSnapshot second = snapshot(10800, HealthConfigs.CHECK_AND_OUTLIER, first, "127.0.0.1:9001");
        second.activate();
        metrics.bind(second);
        assertThat(metrics.scrape()).contains(checks(one, "fail") + " 1.0")
                .doesNotContain("127.0.0.1:9002");
    }

    @Test
    void aPortWithoutHealthPolicyHasNoHealthSeries() {
        metrics.bind(snapshot(10800, ServiceSnapshot.empty(), "127.0.0.1:9001"));

        assertThat(metrics.scrape()).doesNotContain("l4lb_endpoint_healthy", "l4lb_health_checks", "l4lb_outlier", "l4lb_port_fail");
    }

    /** The series of an endpoint's checks: Prometheus sorts the labels, so result comes before service. */
    private static String checks(String endpointLabels, String result) {
        return "l4lb_health_checks_total{" + endpointLabels.replace(",service=", ",result=\"" + result + "\",service=") + "}";
    }

    private Gauge endpointGauge(String endpoint) {
        return metrics.registry().get("l4lb.endpoint.connections.active").tag("endpoint", endpoint).gauge();
    }

    private static ServiceSnapshot snapshot(int timeout, ServiceSnapshot previous, String... endpoints) {
        return snapshot(timeout, HealthPolicy.NONE, previous, endpoints);
    }

    private static ServiceSnapshot snapshot(int timeout, HealthPolicy health, ServiceSnapshot previous, String... endpoints) {
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
        return ServiceSnapshot.build(HealthConfigs.withHealth(Configs.parse(yaml), health).services(), previous);
    }
}

package dev.l4lb.netty.admin;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.http.HttpResponse;

import tools.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.RegisterExtension;

import dev.l4lb.core.config.AdminConfig;
import dev.l4lb.netty.Balancer;
import dev.l4lb.netty.echo.EchoServer;
import dev.l4lb.netty.testing.AdminHttp;
import dev.l4lb.netty.testing.Closer;
import dev.l4lb.netty.testing.Configs;
import dev.l4lb.netty.testing.EchoBackends;
import dev.l4lb.netty.testing.NoLeaks;
import dev.l4lb.netty.testing.Ports;
import dev.l4lb.netty.testing.Sockets;
import dev.l4lb.netty.transport.Transport;

/** A port's per-client limits as the services API and the scrape show them, from a running balancer. */
@ExtendWith(NoLeaks.class)
class LimitsShownTest {
    private static final Transport TRANSPORT = Transport.select("auto");

    @RegisterExtension
    final Closer toClose = new Closer();

    @Test
    void thePortsLimitsAndItsClientTableShowInTheApiAndTheScrape() throws Exception {
        EchoServer backends = toClose.add(EchoBackends.start(TRANSPORT, 1));
        InetSocketAddress listen = Ports.loopback(Ports.free());
        Balancer balancer = toClose.add(Balancer.start(Configs.tcp(listen, backends.addresses(),
                "limits: {maxConnectionsPerClient: 100, connectionRatePerClient: 50/s, connectionRate: 5000/s, clientTableSize: 1000}"),
                TRANSPORT, 1));
        InetAddress loopback = InetAddress.getLoopbackAddress();
        AdminServer admin = toClose.add(AdminServer.start(
                new AdminConfig(new InetSocketAddress(loopback, 0), new InetSocketAddress(loopback, 0)), balancer, null));
        try (Socket client = Sockets.connect(listen)) {
            Sockets.assertEchoes(client, "abc");
        }

        HttpResponse<String> response = AdminHttp.get(admin.metricsAddress(), "/api/v1/services");
        JsonNode limits = AdminHttp.json(response).path("services").get(0).path("limits");
        assertThat(limits.path("maxConnectionsPerClient").asInt()).isEqualTo(100);
        assertThat(limits.path("connectionRatePerClient").asString()).isEqualTo("50/s");
        assertThat(limits.path("connectionRate").asString()).isEqualTo("5000/s");
        assertThat(limits.path("clientTableSize").asInt()).isEqualTo(1000);
        assertThat(limits.path("clientPrefixV6").asInt()).isEqualTo(64);
        assertThat(limits.path("clients").asInt()).isEqualTo(1);
        assertThat(limits.path("evictions").asLong()).isZero();

        String labels = "port=\"p\",protocol=\"TCP\",service=\"test/svc\"";
        assertThat(AdminHttp.get(admin.metricsAddress(), "/metrics").body()).contains(
                "l4lb_client_table_entries{" + labels + "} 1.0",
                "l4lb_client_table_evictions_total{" + labels + "} 0.0",
                "l4lb_refused_total{" + labels.replace("protocol=\"TCP\",", "protocol=\"TCP\",reason=\"refused_client_rate\",") + "} 0.0",
                "l4lb_refused_total{" + labels.replace("protocol=\"TCP\",", "protocol=\"TCP\",reason=\"denied_source\",") + "} 0.0");
    }
}

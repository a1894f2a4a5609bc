package dev.l4lb.core.table;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;

import dev.l4lb.core.model.ClientLimits;
import dev.l4lb.core.model.Endpoint;
import dev.l4lb.core.model.PortPolicy;
import dev.l4lb.core.model.Protocol;
import dev.l4lb.core.model.Rate;
import dev.l4lb.core.model.Service;
import dev.l4lb.core.model.ServicePort;

/** Admission under a port's per-client limits, and the limiter's life across snapshots. */
class ClientLimitAdmissionTest {
    private static final InetSocketAddress LISTEN = new InetSocketAddress(InetAddress.getLoopbackAddress(), 8080);

    @Test
    void aClientOverItsLimitIsRefusedAndTheSlotsComeBackOnceEach() throws Exception {
        Route route = route(new ClientLimits(1, null, null, 10, 64), ServiceSnapshot.empty());
        Admission first = new Admission(route, ip("192.0.2.1"));
        assertThat(first.admit()).isNull();
        Admission second = new Admission(route, ip("192.0.2.1"));
        assertThat(second.admit()).isEqualTo(Outcome.REFUSED_CLIENT_CONNECTIONS);
        second.release(); // took nothing: gives nothing back
        assertThat(route.counters().active()).as("the refused one's port slot was given back").isEqualTo(1);
        assertThat(new Admission(route, ip("192.0.2.2")).admit()).isNull();
        first.release();
        first.release(); // once only
        Admission third = new Admission(route, ip("192.0.2.1"));
        assertThat(third.admit()).isNull();
        assertThat(new Admission(route, ip("192.0.2.1")).admit()).as("a double release freed nothing extra")
                .isEqualTo(Outcome.REFUSED_CLIENT_CONNECTIONS);
    }

    @Test
    void thePortsRateIsCheckedBeforeTheClients() throws Exception {
        Route route = route(new ClientLimits(1, null, new Rate(1, TimeUnit.MINUTES), 10, 64), ServiceSnapshot.empty());
        assertThat(new Admission(route, ip("192.0.2.1")).admit()).isNull();
        assertThat(new Admission(route, ip("192.0.2.1")).admit()).isEqualTo(Outcome.REFUSED_PORT_RATE);
        assertThat(new Admission(route, ip("192.0.2.2")).admit()).isEqualTo(Outcome.REFUSED_PORT_RATE);
        assertThat(route.counters().active()).isEqualTo(1);
    }

    @Test
    void aClientRefusedByItsOwnLimitDoesNotSpendThePortsRate() throws Exception {
        Route route = route(new ClientLimits(1, null, new Rate(120, TimeUnit.MINUTES), 10, 64), ServiceSnapshot.empty());
        assertThat(new Admission(route, ip("192.0.2.1")).admit()).isNull();
        for (int i = 0; i < 5; i++) {
            assertThat(new Admission(route, ip("192.0.2.1")).admit()).isEqualTo(Outcome.REFUSED_CLIENT_CONNECTIONS);
        }
        assertThat(new Admission(route, ip("192.0.2.2")).admit()).as("the port's second token (a burst of 2) is still there").isNull();
        assertThat(new Admission(route, ip("192.0.2.3")).admit()).isEqualTo(Outcome.REFUSED_PORT_RATE);
    }

    @Test
    void theLimiterLivesAcrossReloadsWhileTheLimitsStayTheSame() throws Exception {
        ClientLimits limits = new ClientLimits(1, null, null, 10, 64);
        ServiceSnapshot before = snapshot(limits, ServiceSnapshot.empty());
        Route route = before.routes().get(0);
        Admission held = new Admission(route, ip("192.0.2.1"));
        assertThat(held.admit()).isNull();

        ServiceSnapshot same = snapshot(new ClientLimits(1, null, null, 10, 64), before);
        assertThat(same.routes().get(0).limiter()).isSameAs(route.limiter());
        assertThat(new Admission(same.routes().get(0), ip("192.0.2.1")).admit())
                .as("the count held before the reload still counts").isEqualTo(Outcome.REFUSED_CLIENT_CONNECTIONS);

        ServiceSnapshot changed = snapshot(new ClientLimits(2, null, null, 10, 64), same);
        assertThat(changed.routes().get(0).limiter()).isNotSameAs(route.limiter());
        assertThat(changed.routes().get(0).limiter().limits().maxConnectionsPerClient()).isEqualTo(2);
        assertThat(new Admission(route, ip("192.0.2.1")).admit()).isEqualTo(Outcome.REFUSED_CLIENT_CONNECTIONS);
        held.release();
        assertThat(new Admission(route, ip("192.0.2.1")).admit())
                .as("the slot went back to the limiter that counted it").isNull();
    }

    private static Route route(ClientLimits limits, ServiceSnapshot previous) throws UnknownHostException {
        return snapshot(limits, previous).routes().get(0);
    }

    private static ServiceSnapshot snapshot(ClientLimits limits, ServiceSnapshot previous) throws UnknownHostException {
        PortPolicy d = PortPolicy.defaults();
        PortPolicy policy = new PortPolicy(d.scheduler(), d.sessionAffinity(), d.sessionAffinityTimeoutSeconds(),
                d.sessionAffinityMaxEntries(), d.proxyProtocol(), false, d.acceptProxyProtocol(), List.of(),
                d.connectTimeout(), d.idleTimeout(), 0, limits);
        ServicePort port = new ServicePort("p", Protocol.TCP, List.of(LISTEN), 0, policy,
                List.of(Endpoint.of(new InetSocketAddress(ip("127.0.0.1"), 9000))));
        return ServiceSnapshot.build(List.of(new Service("test", "svc", List.of(port))), previous);
    }

    private static InetAddress ip(String literal) throws UnknownHostException {
        return InetAddress.getByName(literal);
    }
}

package dev.l4lb.core.table;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;

import dev.l4lb.core.model.AcceptProxyProtocol;
import dev.l4lb.core.model.Cidr;
import dev.l4lb.core.model.Endpoint;
import dev.l4lb.core.model.PortPolicy;
import dev.l4lb.core.model.Protocol;
import dev.l4lb.core.model.ProxyProtocol;
import dev.l4lb.core.model.Service;
import dev.l4lb.core.model.ServicePort;
import dev.l4lb.core.sched.Backend;

/** The one admission decision both data planes make, without a socket. */
class AdmissionTest {
    private static final InetAddress CLIENT = ip("192.0.2.7");

    @Test
    void aClientOutsideTheSourceRangesIsDeniedAndHoldsNothing() {
        Route route = route(List.of(Cidr.parse("10.0.0.0/8").orElseThrow()), 0, endpoint(1, 0));
        Admission admission = new Admission(route, CLIENT);

        assertThat(admission.admit()).isEqualTo(Outcome.DENIED_SOURCE);
        assertThat(route.counters().active()).isZero();
        admission.release();
        assertThat(route.counters().active()).isZero();
        assertThat(new Admission(route, ip("10.1.2.3")).admit()).isNull();
    }

    @Test
    void thePortsLimitRefusesTheClientBeyondIt() {
        Route route = route(List.of(), 1, endpoint(1, 0));
        Admission first = new Admission(route, CLIENT);
        Admission second = new Admission(route, CLIENT);

        assertThat(first.admit()).isNull();
        assertThat(second.admit()).isEqualTo(Outcome.REFUSED_LIMIT);
        assertThat(route.counters().active()).isEqualTo(1);

        first.release();
        first.release(); // once only
        assertThat(route.counters().active()).isZero();
        assertThat(new Admission(route, CLIENT).admit()).isNull();
    }

    @Test
    void eachEndpointIsClaimedOnceAndAFailedOneIsNotPickedAgain() {
        Route route = route(List.of(), 0, endpoint(1, 0), endpoint(2, 0), endpoint(3, 0));
        Admission admission = new Admission(route, CLIENT);
        assertThat(admission.admit()).isNull();

        List<Backend> tried = new ArrayList<>();
        for (Backend backend; (backend = admission.next()) != null; ) {
            assertThat(backend.active()).as("claimed").isEqualTo(1);
            tried.add(backend);
            backend.release();
            admission.failed(backend, new java.net.ConnectException("Connection refused"));
        }

        assertThat(tried).containsExactlyInAnyOrderElementsOf(route.backends());
        assertThat(admission.refusal()).isEqualTo(Outcome.CONNECT_FAILED);
        assertThat(route.backends()).allSatisfy(b -> assertThat(b.counters().lastError().message()).isEqualTo("Connection refused"));
    }

    @Test
    void fullEndpointsAreSkippedAndWhenAllAreFullTheRefusalSaysSo() {
        Route route = route(List.of(), 0, endpoint(1, 1), endpoint(2, 1));
        Backend full = route.backends().get(0);
        assertThat(full.tryAcquire()).isTrue();
        Admission admission = new Admission(route, CLIENT);
        assertThat(admission.admit()).isNull();

        Backend picked = admission.next();
        assertThat(picked).isSameAs(route.backends().get(1));
        Admission late = new Admission(route, CLIENT);
        assertThat(late.admit()).isNull();
        assertThat(late.next()).isNull();
        assertThat(late.refusal()).isEqualTo(Outcome.REFUSED_LIMIT);
    }

    @Test
    void aPortWithNoEndpointRefusesWithNoEndpoint() {
        Route route = route(List.of(), 0);
        Admission admission = new Admission(route, CLIENT);

        assertThat(admission.admit()).isNull();
        assertThat(admission.next()).isNull();
        assertThat(admission.refusal()).isEqualTo(Outcome.NO_ENDPOINT);
    }

    private static Route route(List<Cidr> sourceRanges, int maxConnections, Endpoint... endpoints) {
        PortPolicy d = PortPolicy.defaults();
        PortPolicy policy = new PortPolicy(d.scheduler(), d.sessionAffinity(), d.sessionAffinityTimeoutSeconds(),
                d.sessionAffinityMaxEntries(), ProxyProtocol.NONE, false, AcceptProxyProtocol.OFF, sourceRanges,
                d.connectTimeout(), d.idleTimeout(), maxConnections);
        ServicePort port = new ServicePort("", Protocol.TCP, List.of(new InetSocketAddress(InetAddress.getLoopbackAddress(), 8080)),
                0, policy, List.of(endpoints));
        return ServiceSnapshot.build(List.of(new Service("demo", "web", List.of(port))), ServiceSnapshot.empty()).routes().get(0);
    }

    private static Endpoint endpoint(int host, int maxConnections) {
        return new Endpoint(new InetSocketAddress(ip("10.0.0." + host), 80), Endpoint.DEFAULT_WEIGHT, "", true, true, false,
                maxConnections);
    }

    private static InetAddress ip(String literal) {
        try {
            return InetAddress.getByName(literal);
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException(e);
        }
    }
}

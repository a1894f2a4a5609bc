package dev.l4lb.core.table;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;

import dev.l4lb.core.affinity.ClientIpAffinity;
import dev.l4lb.core.model.Endpoint;
import dev.l4lb.core.model.PortPolicy;
import dev.l4lb.core.model.Protocol;
import dev.l4lb.core.model.ProxyProtocol;
import dev.l4lb.core.model.Service;
import dev.l4lb.core.model.ServicePort;
import dev.l4lb.core.model.SessionAffinity;
import dev.l4lb.core.sched.Backend;
import dev.l4lb.core.sched.RoundRobinScheduler;

class ServiceSnapshotTest {

    @Test
    void looksUpRoutesByListener() throws Exception {
        ServicePort http = port("http", List.of(at("127.0.0.1", 8080), at("::1", 8080)), "10.0.0.1:80");
        ServicePort grpc = port("grpc", List.of(at("127.0.0.1", 9090)), "10.0.0.2:90");
        Service web = new Service("demo", "web", List.of(http, grpc));
        ServiceSnapshot snapshot = ServiceSnapshot.build(List.of(web), ServiceSnapshot.empty());

        Route v4 = snapshot.lookupTcp(at("127.0.0.1", 8080));
        assertThat(v4.service()).isSameAs(web);
        assertThat(v4.port()).isSameAs(http);
        assertThat(v4.displayName()).isEqualTo("demo/web:http");
        assertThat(snapshot.lookupTcp(at("::1", 8080))).isSameAs(v4);
        assertThat(snapshot.lookupTcp(at("127.0.0.1", 9090)).port()).isSameAs(grpc);
        assertThat(v4.backends()).extracting(Backend::endpoint).containsExactlyElementsOf(http.endpoints());
        assertThat(v4.scheduler()).isInstanceOf(RoundRobinScheduler.class);

        assertThat(snapshot.lookupTcp(at("127.0.0.1", 8081))).isNull();
        assertThat(snapshot.lookupTcp(at("127.0.0.2", 8080))).isNull();
        assertThat(snapshot.lookupUdp(at("127.0.0.1", 8080))).isNull(); // a TCP port is not a UDP listener
        assertThat(snapshot.routes()).containsExactly(v4, snapshot.lookupTcp(at("127.0.0.1", 9090)));
        assertThat(ServiceSnapshot.empty().routes()).isEmpty();
    }

    @Test
    void udpPortsAreLookedUpSeparately() throws Exception {
        ServicePort dns = new ServicePort("dns", Protocol.UDP, List.of(at("127.0.0.1", 53)), 0,
                PortPolicy.defaults(), List.of(Endpoint.of(at("10.0.0.1", 53))));
        ServicePort tcp = port("dns-tcp", List.of(at("127.0.0.1", 53)), "10.0.0.1:53");
        ServiceSnapshot snapshot = ServiceSnapshot.build(
                List.of(new Service("kube-system", "dns", List.of(dns, tcp))), ServiceSnapshot.empty());

        assertThat(snapshot.lookupUdp(at("127.0.0.1", 53)).port()).isSameAs(dns);
        assertThat(snapshot.lookupTcp(at("127.0.0.1", 53)).port()).isSameAs(tcp);
    }

    @Test
    void aRebuildKeepsTheCountersOfWhatRemains() throws Exception {
        Service before = new Service("demo", "web", List.of(
                port("http", List.of(at("127.0.0.1", 8080)), "10.0.0.1:80", "10.0.0.2:80"),
                port("gone", List.of(at("127.0.0.1", 8081)), "10.0.0.9:80")));
        ServiceSnapshot first = ServiceSnapshot.build(List.of(before), ServiceSnapshot.empty());
        Route oldRoute = first.lookupTcp(at("127.0.0.1", 8080));
        Backend kept = backend(oldRoute, "10.0.0.2:80");
        oldRoute.scheduler().opened(kept); // a connection in flight across the reload

        // 10.0.0.1 leaves, 10.0.0.3 joins, the port moves to another listener; port "gone" goes away.
        Service after = new Service("demo", "web", List.of(
                port("http", List.of(at("127.0.0.1", 8090)), "10.0.0.2:80", "10.0.0.3:80"),
                port("new", List.of(at("127.0.0.1", 8081)), "10.0.0.9:80")));
        ServiceSnapshot second = ServiceSnapshot.build(List.of(after), first);
        Route newRoute = second.lookupTcp(at("127.0.0.1", 8090));

        assertThat(newRoute.counters()).isSameAs(oldRoute.counters());
        assertThat(backend(newRoute, "10.0.0.2:80").counters()).isSameAs(kept.counters());
        assertThat(backend(newRoute, "10.0.0.2:80").counters().active()).isEqualTo(1);
        assertThat(backend(newRoute, "10.0.0.3:80").counters()).isNotIn(countersOf(oldRoute));
        // Same service and endpoint address but another port name: a different port, fresh counters.
        Route renamed = second.lookupTcp(at("127.0.0.1", 8081));
        assertThat(renamed.counters()).isNotSameAs(first.lookupTcp(at("127.0.0.1", 8081)).counters());
        assertThat(renamed.backends().get(0).counters())
                .isNotSameAs(first.lookupTcp(at("127.0.0.1", 8081)).backends().get(0).counters());
        assertThat(second.lookupTcp(at("127.0.0.1", 8080))).isNull();
    }

    @Test
    void portCountersAdmitUpToMaxConnections() {
        PortCounters counters = new PortCounters();
        assertThat(counters.tryAdmit(2)).isTrue();
        assertThat(counters.tryAdmit(2)).isTrue();
        assertThat(counters.tryAdmit(2)).isFalse();
        assertThat(counters.active()).isEqualTo(2); // the refused one is not counted

        counters.release();
        assertThat(counters.tryAdmit(2)).isTrue();
        assertThat(counters.tryAdmit(2)).isFalse();
    }

    @Test
    void maxConnectionsZeroIsUnlimited() {
        PortCounters counters = new PortCounters();
        for (int i = 0; i < 10_000; i++) {
            assertThat(counters.tryAdmit(0)).isTrue();
        }
        assertThat(counters.active()).isEqualTo(10_000);
    }

    @Test
    void portCountersCountOutcomes() {
        PortCounters counters = new PortCounters();
        counters.record(Outcome.OK);
        counters.record(Outcome.OK);
        counters.record(Outcome.NO_ENDPOINT);

        assertThat(counters.count(Outcome.OK)).isEqualTo(2);
        assertThat(counters.count(Outcome.NO_ENDPOINT)).isEqualTo(1);
        assertThat(counters.count(Outcome.DENIED_SOURCE)).isZero();
    }

    @Test
    void activeConnectionsSumsEveryPort() throws Exception {
        Service web = new Service("demo", "web", List.of(
                port("http", List.of(at("127.0.0.1", 8080)), "10.0.0.1:80"),
                port("https", List.of(at("127.0.0.1", 8443)), "10.0.0.1:443")));
        ServiceSnapshot snapshot = ServiceSnapshot.build(List.of(web), ServiceSnapshot.empty());
        snapshot.lookupTcp(at("127.0.0.1", 8080)).counters().tryAdmit(0);
        snapshot.lookupTcp(at("127.0.0.1", 8080)).counters().tryAdmit(0);
        snapshot.lookupTcp(at("127.0.0.1", 8443)).counters().tryAdmit(0);

        assertThat(snapshot.activeConnections()).isEqualTo(3);
        snapshot.lookupTcp(at("127.0.0.1", 8443)).counters().release();
        assertThat(snapshot.activeConnections()).isEqualTo(2);
    }

    @Test
    void clientIpPolicyWrapsTheSchedulerInAffinity() throws Exception {
        PortPolicy clientIp = new PortPolicy("rr", SessionAffinity.CLIENT_IP, 60, ProxyProtocol.NONE, List.of(),
                PortPolicy.DEFAULT_CONNECT_TIMEOUT, PortPolicy.defaults().idleTimeout(), 0);
        ServicePort sticky = new ServicePort("", Protocol.TCP, List.of(at("127.0.0.1", 8080)), 0, clientIp,
                List.of(Endpoint.of(at("10.0.0.1", 80)), Endpoint.of(at("10.0.0.2", 80))));
        Route route = ServiceSnapshot.build(List.of(new Service("default", "sticky", List.of(sticky))),
                ServiceSnapshot.empty()).lookupTcp(at("127.0.0.1", 8080));

        assertThat(route.scheduler()).isInstanceOf(ClientIpAffinity.class);
        assertThat(route.displayName()).isEqualTo("default/sticky");
        InetAddress client = InetAddress.getByName("192.0.2.1");
        Backend first = route.scheduler().pick(client);
        assertThat(route.scheduler().pick(client)).isSameAs(first);
        assertThat(route.scheduler().pick(client)).isSameAs(first);
    }

    @Test
    void twoPortsOnOneListenerAreRejected() throws Exception {
        List<Service> clash = List.of(
                new Service("default", "a", List.of(port("", List.of(at("127.0.0.1", 8080)), "10.0.0.1:80"))),
                new Service("default", "b", List.of(port("", List.of(at("127.0.0.1", 8080)), "10.0.0.2:80"))));
        assertThatThrownBy(() -> ServiceSnapshot.build(clash, ServiceSnapshot.empty()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("default/a");
    }

    private static ServicePort port(String name, List<InetSocketAddress> listen, String... endpoints)
            throws UnknownHostException {
        List<Endpoint> list = new ArrayList<>();
        for (String e : endpoints) {
            String[] hostPort = e.split(":");
            list.add(Endpoint.of(at(hostPort[0], Integer.parseInt(hostPort[1]))));
        }
        return new ServicePort(name, Protocol.TCP, listen, 0, PortPolicy.defaults(), list);
    }

    private static Backend backend(Route route, String address) {
        return route.backends().stream().filter(b -> b.endpoint().toString().equals(address)).findFirst()
                .orElseThrow(() -> new AssertionError(address + " not in " + route.backends()));
    }

    private static List<Object> countersOf(Route route) {
        return route.backends().stream().map(b -> (Object) b.counters()).toList();
    }

    private static InetSocketAddress at(String literal, int port) throws UnknownHostException {
        return new InetSocketAddress(InetAddress.getByName(literal), port);
    }
}

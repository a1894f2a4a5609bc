package dev.l4lb.core.table;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Set;

import org.junit.jupiter.api.Test;

import dev.l4lb.core.model.Endpoint;
import dev.l4lb.core.model.PortPolicy;
import dev.l4lb.core.model.Protocol;
import dev.l4lb.core.model.Service;
import dev.l4lb.core.model.ServicePort;

class RoutingTableTest {
    private static final InetSocketAddress WEB = at(8080);
    private static final InetSocketAddress DNS = at(5353);
    private static final InetSocketAddress API = at(9090);

    @Test
    void startsEmpty() {
        RoutingTable table = new RoutingTable();

        assertThat(table.snapshot().routes()).isEmpty();
        assertThat(table.route(Protocol.TCP, WEB)).isNull();
    }

    @Test
    void routesEachProtocolByItsOwnListeners() {
        RoutingTable table = new RoutingTable();
        ServiceSnapshot snapshot = snapshot(port("web", Protocol.TCP, WEB), port("dns", Protocol.UDP, DNS));
        table.switchTo(snapshot, Set.of(), Set.of());

        assertThat(table.snapshot()).isSameAs(snapshot);
        assertThat(table.route(Protocol.TCP, WEB).port().name()).isEqualTo("web");
        assertThat(table.route(Protocol.UDP, DNS).port().name()).isEqualTo("dns");
        assertThat(table.route(Protocol.UDP, WEB)).isNull();
        assertThat(table.route(Protocol.TCP, DNS)).isNull();
    }

    @Test
    void aRemovedListenerKeepsItsRouteUntilTheNextSwitch() {
        RoutingTable table = new RoutingTable();
        table.switchTo(snapshot(port("web", Protocol.TCP, WEB), port("dns", Protocol.UDP, DNS)), Set.of(), Set.of());
        Route web = table.route(Protocol.TCP, WEB);
        Route dns = table.route(Protocol.UDP, DNS);

        // Both ports leave; what their listeners accepted before they close is still routed.
        table.switchTo(snapshot(port("api", Protocol.TCP, API)), Set.of(WEB), Set.of(DNS));
        assertThat(table.snapshot().lookupTcp(WEB)).isNull();
        assertThat(table.route(Protocol.TCP, WEB)).isSameAs(web);
        assertThat(table.route(Protocol.UDP, DNS)).isSameAs(dns);
        assertThat(table.route(Protocol.UDP, WEB)).as("retired per protocol").isNull();

        table.switchTo(snapshot(port("api", Protocol.TCP, API)), Set.of(), Set.of());
        assertThat(table.route(Protocol.TCP, WEB)).isNull();
        assertThat(table.route(Protocol.UDP, DNS)).isNull();
        assertThat(table.route(Protocol.TCP, API).port().name()).isEqualTo("api");
    }

    private static ServiceSnapshot snapshot(ServicePort... ports) {
        return ServiceSnapshot.build(List.of(new Service("demo", "svc", List.of(ports))), ServiceSnapshot.empty());
    }

    private static ServicePort port(String name, Protocol protocol, InetSocketAddress listen) {
        return new ServicePort(name, protocol, List.of(listen), 0, PortPolicy.defaults(),
                List.of(Endpoint.of(new InetSocketAddress(InetAddress.getLoopbackAddress(), 10000 + listen.getPort()))));
    }

    private static InetSocketAddress at(int port) {
        return new InetSocketAddress(InetAddress.getLoopbackAddress(), port);
    }
}

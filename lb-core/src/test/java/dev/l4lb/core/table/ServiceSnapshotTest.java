package dev.l4lb.core.table;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.MethodSource;

import dev.l4lb.core.affinity.AffinityTable;
import dev.l4lb.core.affinity.ClientIpAffinity;
import dev.l4lb.core.config.ConfigException;
import dev.l4lb.core.config.ConfigLoader;
import dev.l4lb.core.model.AcceptProxyProtocol;
import dev.l4lb.core.model.Cidr;
import dev.l4lb.core.model.Endpoint;
import dev.l4lb.core.model.PortPolicy;
import dev.l4lb.core.model.Protocol;
import dev.l4lb.core.model.ProxyProtocol;
import dev.l4lb.core.model.Service;
import dev.l4lb.core.model.ServicePort;
import dev.l4lb.core.model.SessionAffinity;
import dev.l4lb.core.model.ShortCircuit;
import dev.l4lb.core.sched.Backend;
import dev.l4lb.core.sched.LeastLoadScheduler;
import dev.l4lb.core.sched.MaglevScheduler;
import dev.l4lb.core.sched.PowerOfTwoChoicesScheduler;
import dev.l4lb.core.sched.RandomScheduler;
import dev.l4lb.core.sched.RoundRobinScheduler;
import dev.l4lb.core.sched.Scheduler;
import dev.l4lb.core.model.SchedulerType;
import dev.l4lb.core.sched.SourceHashingScheduler;
import dev.l4lb.core.sched.WeightedRoundRobinScheduler;

class ServiceSnapshotTest {
    private static final InetSocketAddress STICKY_LISTENER = new InetSocketAddress(InetAddress.getLoopbackAddress(), 8080);
    /** The class each scheduler name must build. */
    private static final Map<String, Class<? extends Scheduler>> SCHEDULER_CLASSES = Map.of(
            "rr", RoundRobinScheduler.class, "wrr", WeightedRoundRobinScheduler.class,
            "lc", LeastLoadScheduler.class, "wlc", LeastLoadScheduler.class, "sed", LeastLoadScheduler.class,
            "nq", LeastLoadScheduler.class, "sh", SourceHashingScheduler.class, "mh", MaglevScheduler.class,
            "p2c", PowerOfTwoChoicesScheduler.class, "random", RandomScheduler.class);

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
        assertThat(kept.tryAcquire()).isTrue(); // a connection in flight across the reload

        // 10.0.0.1 leaves, 10.0.0.3 joins, the port moves to another listener; port "gone" goes away.
        Service after = new Service("demo", "web", List.of(
                port("http", List.of(at("127.0.0.1", 8090)), "10.0.0.2:80", "10.0.0.3:80"),
                port("new", List.of(at("127.0.0.1", 8081)), "10.0.0.9:80")));
        ServiceSnapshot second = ServiceSnapshot.build(List.of(after), first);
        Route newRoute = second.lookupTcp(at("127.0.0.1", 8090));

        assertThat(newRoute.counters()).isSameAs(oldRoute.counters());
        assertThat(backend(newRoute, "10.0.0.2:80").counters()).isSameAs(kept.counters());
        assertThat(backend(newRoute, "10.0.0.2:80").counters().active()).isEqualTo(1);
        // The connection opened before the reload closes after it, through the new snapshot's backend.
        backend(newRoute, "10.0.0.2:80").release();
        assertThat(kept.active()).isZero();
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
        ServicePort sticky = new ServicePort("", Protocol.TCP, List.of(at("127.0.0.1", 8080)), 0,
                policy("rr", SessionAffinity.CLIENT_IP, 60, 1000),
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

    @Test
    void aReloadOfTheSamePortKeepsItsAffinityTableSoClientsStayOnTheirEndpoints() throws Exception {
        ServiceSnapshot first = ServiceSnapshot.build(
                List.of(sticky("rr", 60, 1000, "10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80")), ServiceSnapshot.empty());
        Route before = first.lookupTcp(STICKY_LISTENER);
        InetAddress one = ip("192.0.2.1");
        InetAddress two = ip("192.0.2.2");
        assertThat(before.scheduler().pick(one)).hasToString("10.0.0.1:80");
        assertThat(before.scheduler().pick(two)).hasToString("10.0.0.2:80");

        // Reordered, one endpoint added: with a fresh table the new round-robin would give `two` 10.0.0.3 first.
        ServiceSnapshot second = ServiceSnapshot.build(
                List.of(sticky("rr", 60, 1000, "10.0.0.3:80", "10.0.0.2:80", "10.0.0.1:80", "10.0.0.4:80")), first);
        Route after = second.lookupTcp(STICKY_LISTENER);

        assertThat(table(after)).isSameAs(table(before));
        assertThat(table(after).size()).isEqualTo(2);
        // The endpoint comes back as the new snapshot's backend, the one the data plane claims and releases.
        assertThat(after.scheduler().pick(two)).isSameAs(backend(after, "10.0.0.2:80"));
        assertThat(after.scheduler().pick(one)).isSameAs(backend(after, "10.0.0.1:80"));
        assertThat(after.scheduler().pick(ip("192.0.2.3"))).as("a new client: the new round-robin's first turn")
                .hasToString("10.0.0.3:80");
    }

    @Test
    void aReloadThatOnlyChangesTheSchedulerKeepsTheTable() throws Exception {
        ServiceSnapshot first = ServiceSnapshot.build(
                List.of(sticky("rr", 60, 1000, "10.0.0.1:80", "10.0.0.2:80")), ServiceSnapshot.empty());
        Route before = first.lookupTcp(STICKY_LISTENER);
        InetAddress client = ip("192.0.2.1");
        Backend held = before.scheduler().pick(client);

        Route after = ServiceSnapshot.build(
                List.of(sticky("lc", 60, 1000, "10.0.0.1:80", "10.0.0.2:80")), first).lookupTcp(STICKY_LISTENER);

        assertThat(table(after)).isSameAs(table(before));
        assertThat(after.scheduler().pick(client).address()).isEqualTo(held.address());
    }

    @ParameterizedTest(name = "timeout {0} s, max entries {1}")
    @CsvSource({"61, 1000", "60, 1001"})
    void aChangedTimeoutOrBoundGivesAFreshTable(int timeoutSeconds, int maxEntries) throws Exception {
        ServiceSnapshot first = ServiceSnapshot.build(
                List.of(sticky("rr", 60, 1000, "10.0.0.1:80", "10.0.0.2:80")), ServiceSnapshot.empty());
        Route before = first.lookupTcp(STICKY_LISTENER);
        InetAddress client = ip("192.0.2.2");
        before.scheduler().pick(ip("192.0.2.1"));
        assertThat(before.scheduler().pick(client)).hasToString("10.0.0.2:80");

        Route after = ServiceSnapshot.build(
                List.of(sticky("rr", timeoutSeconds, maxEntries, "10.0.0.1:80", "10.0.0.2:80")), first)
                .lookupTcp(STICKY_LISTENER);

        assertThat(table(after)).isNotSameAs(table(before));
        assertThat(table(after).size()).isZero();
        assertThat(table(after).fits(Duration.ofSeconds(timeoutSeconds), maxEntries)).isTrue();
        assertThat(table(after).maxEntries()).isEqualTo(maxEntries);
        assertThat(after.scheduler().pick(client)).as("unknown to the fresh table: the new round-robin's first turn")
                .hasToString("10.0.0.1:80");
    }

    @Test
    void affinityTurnedOffAndOnAgainStartsFromAnEmptyTable() throws Exception {
        ServiceSnapshot first = ServiceSnapshot.build(
                List.of(sticky("rr", 60, 1000, "10.0.0.1:80", "10.0.0.2:80")), ServiceSnapshot.empty());
        Route sticky = first.lookupTcp(STICKY_LISTENER);
        sticky.scheduler().pick(ip("192.0.2.1"));

        ServicePort plain = new ServicePort("", Protocol.TCP, List.of(STICKY_LISTENER), 0,
                policy("rr", SessionAffinity.NONE, 60, 1000),
                List.of(Endpoint.of(at("10.0.0.1", 80)), Endpoint.of(at("10.0.0.2", 80))));
        ServiceSnapshot second = ServiceSnapshot.build(List.of(new Service("default", "sticky", List.of(plain))), first);
        assertThat(second.lookupTcp(STICKY_LISTENER).scheduler()).isInstanceOf(RoundRobinScheduler.class);

        Route again = ServiceSnapshot.build(
                List.of(sticky("rr", 60, 1000, "10.0.0.1:80", "10.0.0.2:80")), second).lookupTcp(STICKY_LISTENER);
        assertThat(table(again)).isNotSameAs(table(sticky));
        assertThat(table(again).size()).isZero();
    }

    @Test
    void anEndpointLimitCountsConnectionsOpenedBeforeTheReload() throws Exception {
        Endpoint limited = new Endpoint(at("10.0.0.1", 80), 1, "", true, true, false, 2);
        ServiceSnapshot first = ServiceSnapshot.build(List.of(new Service("demo", "web", List.of(
                new ServicePort("", Protocol.TCP, List.of(at("127.0.0.1", 8080)), 0, PortPolicy.defaults(),
                        List.of(limited))))), ServiceSnapshot.empty());
        Backend old = first.lookupTcp(at("127.0.0.1", 8080)).backends().get(0);
        assertThat(old.tryAcquire()).isTrue();
        assertThat(old.tryAcquire()).isTrue();

        ServiceSnapshot second = ServiceSnapshot.build(List.of(new Service("demo", "web", List.of(
                new ServicePort("", Protocol.TCP, List.of(at("127.0.0.1", 8080)), 0, PortPolicy.defaults(),
                        List.of(limited, Endpoint.of(at("10.0.0.2", 80))))))), first);
        Route route = second.lookupTcp(at("127.0.0.1", 8080));
        Backend now = backend(route, "10.0.0.1:80");

        assertThat(now.active()).isEqualTo(2);
        assertThat(now.tryAcquire()).as("full with the two connections from before the reload").isFalse();
        assertThat(route.scheduler().pick(ip("192.0.2.1"))).as("the full endpoint is passed over")
                .isSameAs(backend(route, "10.0.0.2:80"));
        old.release(); // one of the old connections closes
        assertThat(now.tryAcquire()).isTrue();
    }

    @Test
    void aRejectedRebuildLeavesTheRunningSnapshotsLeastConnectionWorking() throws Exception {
        // KNOWN BUG (main code, not this test): build() hands each kept endpoint's counters to the
        // new scheduler (SchedulerType.create -> watchBy) before it finds the listener clash it then
        // throws for. The running snapshot's least-connection index is no longer told of count
        // changes, so it keeps picking the endpoint that looked idle before.
        ServicePort lc = new ServicePort("", Protocol.TCP, List.of(at("127.0.0.1", 8080)), 0,
                policy("lc", SessionAffinity.NONE, 60, 1000),
                List.of(Endpoint.of(at("10.0.0.1", 80)), Endpoint.of(at("10.0.0.2", 80))));
        Service web = new Service("demo", "web", List.of(lc));
        ServiceSnapshot running = ServiceSnapshot.build(List.of(web), ServiceSnapshot.empty());
        running.activate();
        Route route = running.lookupTcp(at("127.0.0.1", 8080));

        List<Service> clash = List.of(web,
                new Service("default", "a", List.of(port("", List.of(at("127.0.0.1", 9090)), "10.0.0.8:80"))),
                new Service("default", "b", List.of(port("", List.of(at("127.0.0.1", 9090)), "10.0.0.9:80"))));
        assertThatThrownBy(() -> ServiceSnapshot.build(clash, running)).isInstanceOf(IllegalArgumentException.class);
        ServiceSnapshot builtNotApplied = ServiceSnapshot.build(List.of(web), running);

        InetAddress client = ip("192.0.2.1");
        Backend first = route.scheduler().pick(client);
        assertThat(first).hasToString("10.0.0.1:80");
        assertThat(first.tryAcquire()).isTrue();
        assertThat(route.scheduler().pick(client))
                .as("lc after a rejected build and a build never applied: 10.0.0.1 has 1 active, 10.0.0.2 has 0,"
                        + " so 10.0.0.2; picking 10.0.0.1 means a build took the counters away from the running"
                        + " snapshot's LoadIndex")
                .isSameAs(backend(route, "10.0.0.2:80"));

        // Once applied, the new snapshot follows the counts, including those opened before it.
        builtNotApplied.activate();
        Route next = builtNotApplied.lookupTcp(at("127.0.0.1", 8080));
        assertThat(next.scheduler().pick(client)).isSameAs(backend(next, "10.0.0.2:80"));
        Backend second = backend(next, "10.0.0.2:80");
        assertThat(second.tryAcquire()).isTrue();
        assertThat(second.tryAcquire()).isTrue();
        assertThat(next.scheduler().pick(client)).isSameAs(backend(next, "10.0.0.1:80"));
    }

    @Test
    void theSchedulerNamesAreIpvsadmsSpellings() {
        assertThat(SchedulerType.names()).containsExactly("rr", "wrr", "lc", "wlc", "sed", "nq", "sh", "mh", "p2c", "random");
        assertThat(SCHEDULER_CLASSES).containsOnlyKeys(SchedulerType.names());
    }

    static Stream<String> schedulerNames() {
        return SchedulerType.names().stream();
    }

    @ParameterizedTest
    @MethodSource("schedulerNames")
    void everySchedulerNameBuildsAndPicksTheSnapshotsBackends(String name) throws Exception {
        for (SessionAffinity affinity : SessionAffinity.values()) {
            ServicePort port = new ServicePort("", Protocol.TCP, List.of(STICKY_LISTENER), 0,
                    policy(name, affinity, 60, 1000), List.of(
                            new Endpoint(at("10.0.0.1", 80), 1, "", true, true, false, 0),
                            new Endpoint(at("10.0.0.2", 80), 2, "", true, true, false, 0),
                            new Endpoint(at("10.0.0.3", 80), 3, "", true, true, false, 0)));
            Route route = ServiceSnapshot.build(List.of(new Service("default", "s", List.of(port))),
                    ServiceSnapshot.empty()).lookupTcp(STICKY_LISTENER);
            Scheduler scheduler = route.scheduler();

            if (affinity == SessionAffinity.CLIENT_IP) {
                assertThat(scheduler).isInstanceOf(ClientIpAffinity.class);
            } else {
                assertThat(scheduler).isInstanceOf(SCHEDULER_CLASSES.get(name));
            }
            assertThat(scheduler.hasEligible()).isTrue();
            for (int i = 1; i <= 30; i++) {
                InetAddress client = InetAddress.getByAddress(new byte[] {(byte) 192, 0, 2, (byte) i});
                Backend picked = scheduler.pick(client);
                assertThat(picked).as("%s/%s pick %d", name, affinity, i).isNotNull();
                assertThat(route.backends()).as("%s/%s pick %d", name, affinity, i).anySatisfy(b -> assertThat(b).isSameAs(picked));
                if (affinity == SessionAffinity.CLIENT_IP) {
                    assertThat(scheduler.pick(client)).isSameAs(picked);
                }
            }
        }
    }

    @Test
    void anUnknownSchedulerIsRejectedByName() {
        // A port carries a SchedulerType, so no snapshot meets a name it does not know: the name is
        // resolved once, where the config is read, and an unknown one is refused there, by name.
        assertThat(SchedulerType.byName("dh")).isEmpty();
        assertThatThrownBy(() -> ConfigLoader.parse("lb.yaml",
                "services:\n  - name: sticky\n    ports: [{listen: [\"127.0.0.1:8080\"], scheduler: dh}]\n"))
                .isInstanceOf(ConfigException.class)
                .hasMessageStartingWith("lb.yaml: services[0].ports[0].scheduler: dh ");
    }

    @Test
    void aShortCircuitHandsTheClientsItCoversToTheSiblingPortsRoute() throws Exception {
        ServicePort everyone = port("http", List.of(at("127.0.0.1", 8080)), "10.0.0.1:80", "10.0.0.2:80");
        ServicePort local = shortCircuiting("http/external", at("127.0.0.1", 30080), "http", "10.0.0.1:80");
        Service web = new Service("demo", "web", List.of(local, everyone));
        ServiceSnapshot first = ServiceSnapshot.build(List.of(web), ServiceSnapshot.empty());

        Route external = first.lookupTcp(at("127.0.0.1", 30080));
        Route cluster = first.lookupTcp(at("127.0.0.1", 8080));
        assertThat(external.shortCircuit()).isSameAs(cluster);
        assertThat(cluster.shortCircuit()).isNull();
        assertThat(external.forClient(ip("192.168.1.10"))).as("the node's own address").isSameAs(cluster);
        assertThat(external.forClient(ip("10.244.3.7"))).as("a pod").isSameAs(cluster);
        assertThat(external.forClient(ip("10.245.0.1"))).as("outside the cluster").isSameAs(external);
        assertThat(cluster.forClient(ip("192.168.1.10"))).isSameAs(cluster);
        assertThat(first.routes()).as("config order").containsExactly(external, cluster);

        // A rebuild points at the new snapshot's sibling, whose counters carry on.
        assertThat(external.forClient(ip("192.168.1.10")).counters().tryAdmit(0)).isTrue();
        ServiceSnapshot second = ServiceSnapshot.build(List.of(web), first);
        Route target = second.lookupTcp(at("127.0.0.1", 30080)).shortCircuit();
        assertThat(target).isSameAs(second.lookupTcp(at("127.0.0.1", 8080))).isNotSameAs(cluster);
        assertThat(target.counters().active()).as("the connection the node's client opened").isEqualTo(1);
        assertThat(second.lookupTcp(at("127.0.0.1", 30080)).counters().active()).isZero();
    }

    @Test
    void aShortCircuitToAMissingOrShortCircuitingPortIsRejected() throws Exception {
        ServicePort toNowhere = shortCircuiting("http/external", at("127.0.0.1", 30080), "grpc", "10.0.0.1:80");
        assertThatThrownBy(() -> ServiceSnapshot.build(List.of(new Service("demo", "web", List.of(toNowhere))),
                ServiceSnapshot.empty()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("port http/external of demo/web hands clients to port grpc, which the service has not (as TCP)");

        ServicePort onward = shortCircuiting("a", at("127.0.0.1", 30081), "b", "10.0.0.1:80");
        ServicePort back = shortCircuiting("b", at("127.0.0.1", 30082), "a", "10.0.0.1:80");
        assertThatThrownBy(() -> ServiceSnapshot.build(List.of(new Service("demo", "web", List.of(onward, back))),
                ServiceSnapshot.empty()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("port a of demo/web hands clients to port b, which hands them on again");
    }

    /** A port that hands the node 192.168.1.10 and the pods of 10.244.0.0/16 to {@code sibling}. */
    private static ServicePort shortCircuiting(String name, InetSocketAddress listen, String sibling, String endpoint)
            throws UnknownHostException {
        ServicePort plain = port(name, List.of(listen), endpoint);
        return new ServicePort(name, Protocol.TCP, plain.listen(), 0, plain.policy(), plain.endpoints(), List.of(),
                Optional.of(new ShortCircuit(sibling, Set.of(ip("192.168.1.10")),
                        List.of(Cidr.parse("10.244.0.0/16").orElseThrow()))));
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

    /** Service default/sticky: one unnamed port on {@link #STICKY_LISTENER} with ClientIP affinity. */
    private static Service sticky(String scheduler, int timeoutSeconds, int maxEntries, String... endpoints)
            throws UnknownHostException {
        List<Endpoint> list = new ArrayList<>();
        for (String e : endpoints) {
            String[] hostPort = e.split(":");
            list.add(Endpoint.of(at(hostPort[0], Integer.parseInt(hostPort[1]))));
        }
        return new Service("default", "sticky", List.of(new ServicePort("", Protocol.TCP, List.of(STICKY_LISTENER), 0,
                policy(scheduler, SessionAffinity.CLIENT_IP, timeoutSeconds, maxEntries), list)));
    }

    private static PortPolicy policy(String scheduler, SessionAffinity affinity, int timeoutSeconds, int maxEntries) {
        PortPolicy d = PortPolicy.defaults();
        return new PortPolicy(SchedulerType.byName(scheduler).orElseThrow(), affinity, timeoutSeconds, maxEntries, ProxyProtocol.NONE, false,
                AcceptProxyProtocol.OFF, List.of(),
                d.connectTimeout(), d.idleTimeout(), 0);
    }

    private static AffinityTable table(Route route) {
        assertThat(route.scheduler()).isInstanceOf(ClientIpAffinity.class);
        return ((ClientIpAffinity) route.scheduler()).table();
    }

    private static InetAddress ip(String literal) throws UnknownHostException {
        return InetAddress.getByName(literal); // literals only: the JDK does not resolve them
    }

    private static InetSocketAddress at(String literal, int port) throws UnknownHostException {
        return new InetSocketAddress(InetAddress.getByName(literal), port);
    }
}

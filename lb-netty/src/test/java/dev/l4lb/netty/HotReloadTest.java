package dev.l4lb.netty;

import static dev.l4lb.netty.testing.Sockets.assertEchoes;
import static dev.l4lb.netty.testing.Sockets.connect;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import dev.l4lb.core.affinity.ClientIpAffinity;
import dev.l4lb.core.config.BalancerConfig;
import dev.l4lb.core.config.ConfigLoader;
import dev.l4lb.core.model.Addresses;
import dev.l4lb.core.sched.Backend;
import dev.l4lb.core.table.Route;
import dev.l4lb.core.table.ServiceSnapshot;
import dev.l4lb.netty.echo.EchoServer;
import dev.l4lb.netty.testing.Closer;
import dev.l4lb.netty.testing.EchoBackends;
import dev.l4lb.netty.testing.NoLeaks;
import dev.l4lb.netty.testing.Ports;
import dev.l4lb.netty.testing.RawHttp;
import dev.l4lb.netty.testing.Transports;
import dev.l4lb.netty.transport.Transport;

/**
 * Reloading the config file while clients connect, as {@code lb run} does on SIGHUP: listeners
 * that stay are never disturbed, new ones are bound before the switch, removed ones drain, and a
 * file or a port that cannot be used leaves the running config exactly as it was.
 */
@ExtendWith(NoLeaks.class)
class HotReloadTest {
    private static final Transport TRANSPORT = Transport.select("auto");
    private static final String A = "test/a";
    private static final String B = "test/b";
    private static final Pattern RELOADS = Pattern.compile("(?m)^l4lb_config_reloads_total\\{result=\"(\\w+)\",?} (\\S+)$");

    @RegisterExtension
    final Closer toClose = new Closer();
    @TempDir
    Path dir;

    static Stream<Transport> transports() {
        return Transports.available().stream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("transports")
    void fiftyReloadsUnderLoadFailNoConnection(Transport transport) throws Exception {
        List<InetSocketAddress> backends = echoBackends(transport, 5);
        InetSocketAddress a = Ports.loopback(Ports.free());
        InetSocketAddress b = Ports.loopback(Ports.free());
        Path file = dir.resolve("l4lb.yaml");
        // B starts present and is removed by every even reload, added back by every odd one.
        write(file, service(A, a, backends), service(B, b, backends.subList(0, 1)));
        Balancer balancer = start(file, transport);
        ConfigReloader reloader = new ConfigReloader(file, balancer);
        Load load = toClose.add(new Load(a, names(backends), 2));
        awaitProgress(load, 5);

        Random random = new Random(20240601);
        Set<InetSocketAddress> endpoints = new LinkedHashSet<>(backends);
        // Kept until the end, so that a problem with B does not hide how A fared.
        List<String> portB = new ArrayList<>();
        for (int i = 0; i < 50; i++) {
            Set<InetSocketAddress> next = otherNonEmptySubset(random, backends, endpoints);
            boolean withB = i % 2 == 1;
            List<String> services = new ArrayList<>();
            services.add(service(A, a, List.copyOf(next)));
            if (withB) {
                services.add(service(B, b, backends.subList(0, 1)));
            }
            write(file, services.toArray(String[]::new));
            load.phase("during reload " + i);

            Reload reload = reloader.reload();

            load.phase("after reload " + i);
            assertThat(reload.applied()).as("reload %d: %s", i, reload.errors()).isTrue();
            assertThat(reload.changes().endpointsAdded()).as("reload %d", i)
                    .containsExactlyInAnyOrderElementsOf(endpointNames(A, minus(next, endpoints)));
            assertThat(reload.changes().endpointsRemoved()).as("reload %d", i)
                    .containsExactlyInAnyOrderElementsOf(endpointNames(A, minus(endpoints, next)));
            assertThat(balancer.snapshot().lookupTcp(a).backends()).extracting(Backend::address)
                    .containsExactlyInAnyOrderElementsOf(next);
            if (withB) {
                assertThat(reload.changes().servicesAdded()).containsExactly(B);
                assertThat(reload.listenersBound()).containsExactly(b);
                assertThat(reload.listenersClosed()).isEmpty();
                try (Socket client = connect(b)) {
                    assertEchoes(client, "B is back after reload " + i);
                } catch (IOException | AssertionError e) {
                    portB.add("reload " + i + " added B, which does not answer: " + e);
                }
            } else {
                assertThat(reload.changes().servicesRemoved()).containsExactly(B);
                assertThat(reload.listenersBound()).isEmpty();
                assertThat(reload.listenersClosed()).containsExactly(b);
                String accepted = notRefused(b);
                if (accepted != null) {
                    portB.add("reload " + i + " removed B, which then " + accepted);
                }
            }
            assertThat(balancer.tcp().listenerAddresses()).isEqualTo(withB ? Set.of(a, b) : Set.of(a));
            endpoints = next;
            // Let the clients make connections under this config before the next reload.
            awaitProgress(load, 10);
        }
        load.close();

        assertThat(load.failed()).as("connections to A that failed (first ones: %s)", load.failures()).isZero();
        assertThat(load.succeeded()).isGreaterThanOrEqualTo(200);
        assertThat(portB).as("B, bound and closed by the reloads").isEmpty();
        assertThat(reloads(balancer)).containsEntry("applied", 50.0).containsEntry("rejected", 0.0);
        // Every connection arrived on a listener the snapshot in force had a route for.
        assertThat(balancer.tcp().unroutedConnections()).isZero();
    }

    @Test
    void aRemovedPortStopsAcceptingButItsOpenConnectionsGoOn() throws Exception {
        List<InetSocketAddress> backends = echoBackends(TRANSPORT, 2);
        InetSocketAddress a = Ports.loopback(Ports.free());
        InetSocketAddress b = Ports.loopback(Ports.free());
        Path file = dir.resolve("l4lb.yaml");
        write(file, service(A, a, backends.subList(0, 1)), service(B, b, backends.subList(1, 2)));
        Balancer balancer = start(file, TRANSPORT);

        try (Socket open = connect(b)) {
            assertEchoes(open, "before the reload");
            write(file, service(A, a, backends.subList(0, 1)));

            Reload reload = new ConfigReloader(file, balancer).reload();

            assertThat(reload.applied()).as("%s", reload.errors()).isTrue();
            assertThat(reload.changes().servicesRemoved()).containsExactly(B);
            assertThat(reload.listenersClosed()).containsExactly(b);
            assertThat(balancer.tcp().listenerAddresses()).containsExactly(a);
            assertRefused(b);
            assertEchoes(open, "after the reload, on the same connection");
            assertEchoes(open, "and again");
            try (Socket other = connect(a)) {
                assertEchoes(other, "the port that stays");
            }
        }
    }

    @Test
    void changedEndpointsApplyToNewConnectionsOnly() throws Exception {
        List<InetSocketAddress> backends = echoBackends(TRANSPORT, 3);
        InetSocketAddress a = Ports.loopback(Ports.free());
        Path file = dir.resolve("l4lb.yaml");
        write(file, service(A, a, backends));
        Balancer balancer = start(file, TRANSPORT);

        try (KeepAlive open = new KeepAlive(a)) {
            String held = open.backend();
            List<InetSocketAddress> remaining = backends.stream().filter(e -> !Addresses.format(e).equals(held)).toList();
            assertThat(remaining).hasSize(2);
            write(file, service(A, a, remaining));

            Reload reload = new ConfigReloader(file, balancer).reload();

            assertThat(reload.applied()).as("%s", reload.errors()).isTrue();
            assertThat(reload.changes().endpointsRemoved()).containsExactly(portName(A) + " " + held);
            assertThat(reload.changes().endpointsAdded()).isEmpty();
            assertThat(reload.changes().portsChanged()).isEmpty();
            assertThat(reload.listenersBound()).isEmpty();
            assertThat(reload.listenersClosed()).isEmpty();
            // The open connection still talks to the endpoint the reload removed...
            assertThat(open.backend()).isEqualTo(held);
            // ...while every new one goes to the endpoints that remain, each in its turn.
            Map<String, Integer> answered = new HashMap<>();
            for (int i = 0; i < 10; i++) {
                answered.merge(RawHttp.backendOf(RawHttp.get(a, "/")), 1, Integer::sum);
            }
            assertThat(answered).containsOnlyKeys(names(remaining));
            assertThat(open.backend()).isEqualTo(held);
        }
    }

    @Test
    void clientIpAffinitySurvivesAReloadAndLeavesARemovedEndpoint() throws Exception {
        List<InetSocketAddress> backends = echoBackends(TRANSPORT, 4);
        InetSocketAddress a = Ports.loopback(Ports.free());
        Path file = dir.resolve("l4lb.yaml");
        write(file, service(A, a, backends.subList(0, 2), "sessionAffinity: ClientIP"));
        Balancer balancer = start(file, TRANSPORT);
        ConfigReloader reloader = new ConfigReloader(file, balancer);
        // Six client addresses (127/8 is all local); round-robin puts three on each endpoint.
        List<InetAddress> clients = new ArrayList<>();
        for (int i = 2; i <= 7; i++) {
            clients.add(InetAddress.getByName("127.0.0." + i));
        }
        Map<InetAddress, String> stuck = new HashMap<>();
        for (InetAddress client : clients) {
            stuck.put(client, stickyBackend(client, a, 3));
        }
        assertThat(Set.copyOf(stuck.values())).containsExactlyInAnyOrderElementsOf(names(backends.subList(0, 2)));

        // Two endpoints more, nothing else about the port changed: every client keeps its endpoint
        // (a fresh table would send some of them to the new endpoints).
        write(file, service(A, a, backends, "sessionAffinity: ClientIP"));
        Reload added = reloader.reload();

        assertThat(added.applied()).as("%s", added.errors()).isTrue();
        assertThat(added.changes().endpointsAdded()).containsExactlyElementsOf(endpointNames(A, backends.subList(2, 4)));
        assertThat(added.changes().portsChanged()).isEmpty();
        for (InetAddress client : clients) {
            assertThat(stickyBackend(client, a, 3)).as("client %s", client).isEqualTo(stuck.get(client));
        }

        // Without the first endpoint its clients move (and stick again); the others stay put.
        String removed = Addresses.format(backends.get(0));
        write(file, service(A, a, backends.subList(1, 4), "sessionAffinity: ClientIP"));
        Reload withoutFirst = reloader.reload();

        assertThat(withoutFirst.applied()).as("%s", withoutFirst.errors()).isTrue();
        assertThat(withoutFirst.changes().endpointsRemoved()).containsExactly(portName(A) + " " + removed);
        for (InetAddress client : clients) {
            String now = stickyBackend(client, a, 3);
            if (stuck.get(client).equals(removed)) {
                assertThat(now).as("client %s, whose endpoint was removed", client).isNotEqualTo(removed);
            } else {
                assertThat(now).as("client %s", client).isEqualTo(stuck.get(client));
            }
        }
    }

    @Test
    void aBadFileIsRejectedWithEveryProblemAndTheRunningConfigStays() throws Exception {
        List<InetSocketAddress> backends = echoBackends(TRANSPORT, 2);
        InetSocketAddress a = Ports.loopback(Ports.free());
        InetSocketAddress b = Ports.loopback(Ports.free());
        Path file = dir.resolve("l4lb.yaml");
        write(file, service(A, a, backends));
        Balancer balancer = start(file, TRANSPORT);
        ConfigReloader reloader = new ConfigReloader(file, balancer);
        BalancerConfig running = balancer.config();
        ServiceSnapshot serving = balancer.snapshot();

        try (Socket open = connect(a)) {
            assertEchoes(open, "before");
            // Service B would be bound if the file were taken in part.
            Files.writeString(file, """
                    services:
                      - name: test/a
                        ports:
                          - name: p
                            listen: ["%s"]
                            bogus: 1
                            endpoints: ["localhost:9001", "%s"]
                      - name: test/b
                        ports:
                          - name: p
                            listen: ["%s"]
                            scheduler: fastest
                            endpoints: ["%s"]
                    """.formatted(Addresses.format(a), Addresses.format(backends.get(0)), Addresses.format(b),
                    Addresses.format(backends.get(1))));

            Reload reload = reloader.reload();

            assertThat(reload.applied()).isFalse();
            assertThat(reload.errors()).hasSize(3)
                    .anySatisfy(e -> assertThat(e).startsWith(file + ": services[0].ports[0].bogus: ").contains("bogus"))
                    .anySatisfy(e -> assertThat(e).startsWith(file + ": services[0].ports[0].endpoints[0]: ").contains("localhost"))
                    .anySatisfy(e -> assertThat(e).startsWith(file + ": services[1].ports[0].scheduler: ").contains("fastest"));
            assertThat(reload.changes().isEmpty()).isTrue();
            assertThat(reload.listenersBound()).isEmpty();
            assertThat(reload.listenersClosed()).isEmpty();
            assertThat(balancer.config()).isSameAs(running);
            assertThat(balancer.snapshot()).isSameAs(serving);
            assertThat(balancer.tcp().listenerAddresses()).containsExactly(a);
            assertRefused(b);
            assertEchoes(open, "after the rejected reload");
            try (Socket fresh = connect(a)) {
                assertEchoes(fresh, "a new connection");
            }
            assertThat(reloads(balancer)).containsEntry("rejected", 1.0).containsEntry("applied", 0.0);

            // Fixed, the same file is taken.
            write(file, service(A, a, backends), service(B, b, backends));
            Reload fixed = reloader.reload();
            assertThat(fixed.applied()).as("%s", fixed.errors()).isTrue();
            assertThat(fixed.changes().servicesAdded()).containsExactly(B);
            assertThat(reloads(balancer)).containsEntry("rejected", 1.0).containsEntry("applied", 1.0);
            assertEchoes(open, "after the fixed reload");
        }
    }

    @Test
    void aPortThatCannotBeBoundRejectsTheReloadAndBindsNothing() throws Exception {
        List<InetSocketAddress> backends = echoBackends(TRANSPORT, 2);
        InetSocketAddress a = Ports.loopback(Ports.free());
        InetSocketAddress c = Ports.loopback(Ports.free());
        Path file = dir.resolve("l4lb.yaml");
        write(file, service(A, a, backends));
        Balancer balancer = start(file, TRANSPORT);
        ConfigReloader reloader = new ConfigReloader(file, balancer);
        BalancerConfig running = balancer.config();
        ServiceSnapshot serving = balancer.snapshot();

        try (ServerSocket squatter = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
             Socket open = connect(a)) {
            assertEchoes(open, "before");
            InetSocketAddress taken = Ports.loopback(squatter.getLocalPort());
            // C comes first, so its listener is bound before D's fails.
            write(file, service(A, a, backends.subList(0, 1)), service("test/c", c, backends),
                    service("test/d", taken, backends));

            Reload reload = reloader.reload();

            assertThat(reload.applied()).isFalse();
            assertThat(reload.errors()).singleElement().asString()
                    .contains(Addresses.format(taken)).contains("test/d").contains("in use");
            assertThat(reload.changes().isEmpty()).isTrue();
            assertThat(reload.listenersBound()).isEmpty();
            assertThat(balancer.config()).isSameAs(running);
            assertThat(balancer.snapshot()).isSameAs(serving);
            assertThat(balancer.tcp().listenerAddresses()).containsExactly(a);
            assertRefused(c);
            assertEchoes(open, "after the rejected reload");
            // A's endpoints were not cut to one either: both still take new connections.
            Set<String> answered = new LinkedHashSet<>();
            for (int i = 0; i < 4; i++) {
                answered.add(RawHttp.backendOf(RawHttp.get(a, "/")));
            }
            assertThat(answered).containsExactlyInAnyOrderElementsOf(names(backends));
            assertThat(reloads(balancer)).containsEntry("rejected", 1.0).containsEntry("applied", 0.0);

            // Once the port is free the same file is taken.
            squatter.close();
            Reload retried = reloader.reload();
            assertThat(retried.applied()).as("%s", retried.errors()).isTrue();
            assertThat(retried.listenersBound()).containsExactlyInAnyOrder(c, taken);
            assertThat(retried.changes().servicesAdded()).containsExactly("test/c", "test/d");
            assertThat(retried.changes().endpointsRemoved()).containsExactly(portName(A) + " " + Addresses.format(backends.get(1)));
            try (Socket toC = connect(c)) {
                assertEchoes(toC, "C");
            }
        }
    }

    /** Issue #21: a file emptied by mistake once closed every listener on the next reload. */
    @Test
    void aReloadToNoServicesAtAllIsRejectedAndEverythingStillServes() throws Exception {
        List<InetSocketAddress> backends = echoBackends(TRANSPORT, 1);
        InetSocketAddress a = Ports.loopback(Ports.free());
        Path file = dir.resolve("l4lb.yaml");
        write(file, service(A, a, backends));
        Balancer balancer = start(file, TRANSPORT);
        java.nio.file.Files.writeString(file, "services: []\n");

        Reload reload = new ConfigReloader(file, balancer).reload();

        assertThat(reload.applied()).isFalse();
        assertThat(reload.errors()).singleElement().asString().contains("services: [] would close every listener");
        try (Socket open = connect(a)) {
            assertEchoes(open, "still served");
        }
    }

    @Test
    void aReloadWithNoChangesChangesNothing() throws Exception {
        List<InetSocketAddress> backends = echoBackends(TRANSPORT, 2);
        InetSocketAddress a = Ports.loopback(Ports.free());
        InetSocketAddress b = Ports.loopback(Ports.free());
        Path file = dir.resolve("l4lb.yaml");
        write(file, service(A, a, backends, "sessionAffinity: ClientIP"), service(B, b, backends));
        Balancer balancer = start(file, TRANSPORT);
        Set<InetSocketAddress> listening = balancer.tcp().listenerAddresses();
        int sockets = balancer.tcp().listenerSockets();
        Route before = balancer.snapshot().lookupTcp(a);

        try (Socket open = connect(a)) {
            assertEchoes(open, "before");

            Reload reload = new ConfigReloader(file, balancer).reload();

            assertThat(reload.applied()).as("%s", reload.errors()).isTrue();
            assertThat(reload.changes().isEmpty()).isTrue();
            assertThat(reload.changes().summary()).isEqualTo("no changes");
            assertThat(reload.listenersBound()).isEmpty();
            assertThat(reload.listenersClosed()).isEmpty();
            assertThat(reload.errors()).isEmpty();
            assertThat(reload.warnings()).isEmpty();
            assertThat(balancer.tcp().listenerAddresses()).isEqualTo(listening);
            assertThat(balancer.tcp().listenerSockets()).isEqualTo(sockets);
            // The port's counters and ClientIP table carry over; so do the endpoints' counters.
            Route after = balancer.snapshot().lookupTcp(a);
            assertThat(after.counters()).isSameAs(before.counters());
            assertThat(after.counters().active()).isEqualTo(1);
            assertThat(((ClientIpAffinity) after.scheduler()).table())
                    .isSameAs(((ClientIpAffinity) before.scheduler()).table());
            for (int i = 0; i < before.backends().size(); i++) {
                assertThat(after.backends().get(i).counters()).isSameAs(before.backends().get(i).counters());
            }
            assertEchoes(open, "after");
            try (Socket toB = connect(b)) {
                assertEchoes(toB, "B");
            }
            assertThat(reloads(balancer)).containsEntry("applied", 1.0);
        }
    }

    // ---- helpers ----

    /** One TCP service with one port {@code p}, as YAML under {@code services:}. */
    @Test
    void aListenerWidenedToTheWildcardAddressIsApplied() throws Exception {
        List<InetSocketAddress> backends = echoBackends(TRANSPORT, 1);
        int port = Ports.free();
        Path file = dir.resolve("l4lb.yaml");
        write(file, service(A, Ports.loopback(port), backends));
        Balancer balancer = start(file, TRANSPORT);
        write(file, service(A, new InetSocketAddress("0.0.0.0", port), backends));

        Reload reload = new ConfigReloader(file, balancer).reload();

        assertThat(reload.applied()).as("%s", reload.errors()).isTrue();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("transports")
    void connectionsTheBalancerAcceptedOnARemovedPortAreNotReset(Transport transport) throws Exception {
        List<InetSocketAddress> backends = echoBackends(transport, 1);
        InetSocketAddress a = Ports.loopback(Ports.free());
        InetSocketAddress b = Ports.loopback(Ports.free());
        Path file = dir.resolve("l4lb.yaml");
        write(file, service(A, a, backends), service(B, b, backends));
        Balancer balancer = start(file, transport);
        ConfigReloader reloader = new ConfigReloader(file, balancer);
        // Clients keep connecting to B while reloads remove it and add it back.
        Load load = toClose.add(new Load(b, names(backends), 2));
        for (int i = 0; i < 10; i++) {
            long before = load.succeeded();
            await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(2)).until(() -> load.succeeded() >= before + 20);
            write(file, service(A, a, backends));
            assertThat(reloader.reload().applied()).isTrue();
            write(file, service(A, a, backends), service(B, b, backends));
            assertThat(reloader.reload().applied()).isTrue();
        }
        load.close();

        // Refused connections (no listener) are expected; connections the balancer accepted and
        // then reset because the new snapshot no longer routes their listener are not.
        assertThat(balancer.tcp().unroutedConnections()).isZero();
    }

    /** A removed port refuses new connections from the moment reload() returns (NIO closes its sockets late). */
    @ParameterizedTest(name = "{0}")
    @MethodSource("transports")
    void aRemovedPortRefusesAsSoonAsTheReloadReturns(Transport transport) throws Exception {
        List<InetSocketAddress> backends = echoBackends(transport, 1);
        InetSocketAddress a = Ports.loopback(Ports.free());
        InetSocketAddress b = Ports.loopback(Ports.free());
        Path file = dir.resolve("l4lb.yaml");
        write(file, service(A, a, backends), service(B, b, backends));
        Balancer balancer = start(file, transport);
        ConfigReloader reloader = new ConfigReloader(file, balancer);
        for (int i = 0; i < 100; i++) {
            write(file, service(A, a, backends));
            assertThat(reloader.reload().listenersClosed()).containsExactly(b);
            assertRefused(b);
            write(file, service(A, a, backends), service(B, b, backends));
            assertThat(reloader.reload().listenersBound()).containsExactly(b);
        }
    }

    private static String service(String name, InetSocketAddress listen, List<InetSocketAddress> endpoints,
                                  String... extraPortKeys) {
        StringBuilder yaml = new StringBuilder()
                .append("  - name: ").append(name).append('\n')
                .append("    ports:\n")
                .append("      - name: p\n")
                .append("        listen: [\"").append(Addresses.format(listen)).append("\"]\n");
        for (String key : extraPortKeys) {
            yaml.append("        ").append(key).append('\n');
        }
        yaml.append("        endpoints: [")
                .append(endpoints.stream().map(e -> "\"" + Addresses.format(e) + "\"").collect(Collectors.joining(", ")))
                .append("]\n");
        return yaml.toString();
    }

    private static void write(Path file, String... services) throws IOException {
        Files.writeString(file, "services:\n" + String.join("", services));
    }

    private static String portName(String service) {
        return service + ":p/TCP";
    }

    private static List<String> endpointNames(String service, Set<InetSocketAddress> endpoints) {
        return endpointNames(service, List.copyOf(endpoints));
    }

    private static List<String> endpointNames(String service, List<InetSocketAddress> endpoints) {
        return endpoints.stream().map(e -> portName(service) + " " + Addresses.format(e)).toList();
    }

    private static Set<InetSocketAddress> minus(Set<InetSocketAddress> from, Set<InetSocketAddress> without) {
        Set<InetSocketAddress> rest = new LinkedHashSet<>(from);
        rest.removeAll(without);
        return rest;
    }

    /** A non-empty subset of {@code all}, in their order, other than {@code current}. */
    private static Set<InetSocketAddress> otherNonEmptySubset(Random random, List<InetSocketAddress> all,
                                                              Set<InetSocketAddress> current) {
        while (true) {
            int mask = 1 + random.nextInt((1 << all.size()) - 1);
            Set<InetSocketAddress> subset = new LinkedHashSet<>();
            for (int i = 0; i < all.size(); i++) {
                if ((mask & (1 << i)) != 0) {
                    subset.add(all.get(i));
                }
            }
            if (!subset.equals(current)) {
                return subset;
            }
        }
    }

    private static List<String> names(List<InetSocketAddress> backends) {
        return backends.stream().map(Addresses::format).toList();
    }

    /** {@code l4lb_config_reloads_total} by result, from the Prometheus scrape. */
    private static Map<String, Double> reloads(Balancer balancer) {
        Map<String, Double> byResult = new HashMap<>();
        Matcher m = RELOADS.matcher(balancer.metrics().scrape());
        while (m.find()) {
            byResult.put(m.group(1), Double.parseDouble(m.group(2)));
        }
        return byResult;
    }

    private static void assertRefused(InetSocketAddress address) {
        assertThatThrownBy(() -> {
            try (Socket probe = new Socket()) {
                probe.connect(address, 5000);
            }
        }).as("a new connection to %s", address).isInstanceOf(ConnectException.class);
    }

    /** Null when a new connection to {@code address} is refused; else what happened instead. */
    private static String notRefused(InetSocketAddress address) {
        try (Socket probe = new Socket()) {
            probe.connect(address, 5000);
            return "accepted a new connection";
        } catch (ConnectException refused) {
            return null;
        } catch (IOException e) {
            return "failed a new connection otherwise than by refusing it: " + e;
        }
    }

    /** The backend that answers all of {@code times} connections from {@code client}; fails when they differ. */
    private static String stickyBackend(InetAddress client, InetSocketAddress listen, int times) throws IOException {
        List<String> answered = new ArrayList<>();
        for (int i = 0; i < times; i++) {
            try (Socket socket = new Socket()) {
                socket.bind(new InetSocketAddress(client, 0));
                socket.connect(listen, 5000);
                socket.setSoTimeout(10_000);
                socket.getOutputStream().write("GET / HTTP/1.0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                answered.add(RawHttp.backendOf(new String(socket.getInputStream().readAllBytes(), StandardCharsets.UTF_8)));
            }
        }
        assertThat(answered).as("backends that answered %s", client).containsOnly(answered.get(0));
        return answered.get(0);
    }

    private static void awaitProgress(Load load, int connections) {
        long target = load.succeeded() + connections;
        await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(2))
                .until(() -> load.succeeded() >= target || load.failed() > 0);
    }

    private List<InetSocketAddress> echoBackends(Transport transport, int count) throws Exception {
        EchoServer server = EchoBackends.start(transport, count);
        toClose.add(server);
        return server.addresses();
    }

    private Balancer start(Path file, Transport transport) throws Exception {
        return toClose.add(Balancer.start(ConfigLoader.load(file), transport, 2));
    }

    /**
     * Clients that each open one new connection after another to {@code target}, GET the echo
     * page and check that one of the expected backends answered, until closed. Every exception
     * or wrong answer is a failure; the first few are kept with the phase of the test they
     * happened in.
     */
    private static final class Load implements AutoCloseable {
        private static final int FAILURES_KEPT = 5;

        private final InetSocketAddress target;
        private final Set<String> backends;
        private final AtomicLong succeeded = new AtomicLong();
        private final AtomicLong failed = new AtomicLong();
        private final List<String> failures = new CopyOnWriteArrayList<>();
        private final List<Thread> clients = new ArrayList<>();
        private volatile boolean running = true;
        private volatile String phase = "before the first reload";

        Load(InetSocketAddress target, List<String> backends, int clientThreads) {
            this.target = target;
            this.backends = Set.copyOf(backends);
            for (int i = 0; i < clientThreads; i++) {
                Thread client = new Thread(this::run, "load-client-" + i);
                client.setDaemon(true);
                clients.add(client);
                client.start();
            }
        }

        void phase(String now) {
            phase = now;
        }

        long succeeded() {
            return succeeded.get();
        }

        long failed() {
            return failed.get();
        }

        List<String> failures() {
            return List.copyOf(failures);
        }

        private void run() {
            while (running) {
                String when = phase;
                try {
                    String response = RawHttp.get(target, "/");
                    if (!response.startsWith("HTTP/1.0 200 OK")) {
                        throw new AssertionError("not a 200 answer: " + response.lines().findFirst().orElse("(empty)"));
                    }
                    String backend = RawHttp.backendOf(response);
                    if (!backends.contains(backend)) {
                        throw new AssertionError("answered by " + backend + ", not one of " + backends);
                    }
                    succeeded.incrementAndGet();
                } catch (Exception | AssertionError e) {
                    failed.incrementAndGet();
                    if (failures.size() < FAILURES_KEPT) {
                        failures.add(when + " (to " + phase + "): " + e);
                    }
                }
            }
        }

        @Override
        public void close() throws InterruptedException {
            running = false;
            for (Thread client : clients) {
                client.join(15_000);
            }
        }
    }

    /** One HTTP/1.1 connection kept open across requests, to see which backend it stays on. */
    private static final class KeepAlive implements AutoCloseable {
        private static final Pattern CONTENT_LENGTH = Pattern.compile("(?im)^content-length:\\s*(\\d+)\\s*$");

        private final Socket socket;

        KeepAlive(InetSocketAddress address) throws IOException {
            socket = connect(address);
        }

        /** GETs the echo page on this connection and tells which backend answered. */
        String backend() throws IOException {
            socket.getOutputStream().write("GET / HTTP/1.1\r\nHost: test\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            InputStream in = socket.getInputStream();
            StringBuilder head = new StringBuilder();
            while (head.length() < 4 || !head.substring(head.length() - 4).equals("\r\n\r\n")) {
                int c = in.read();
                if (c < 0) {
                    throw new EOFException("connection ended after: " + head);
                }
                head.append((char) c);
            }
            Matcher length = CONTENT_LENGTH.matcher(head);
            assertThat(length.find()).as("Content-Length in %s", head).isTrue();
            byte[] body = in.readNBytes(Integer.parseInt(length.group(1)));
            return RawHttp.backendOf(new String(body, StandardCharsets.UTF_8));
        }

        @Override
        public void close() throws IOException {
            socket.close();
        }
    }
}

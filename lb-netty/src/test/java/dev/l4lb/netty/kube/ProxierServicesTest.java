package dev.l4lb.netty.kube;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetSocketAddress;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicReference;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import dev.l4lb.core.kube.ClusterObjects;
import dev.l4lb.core.kube.KubeManifests;
import dev.l4lb.core.kube.NodeContext;
import dev.l4lb.core.model.Addresses;
import dev.l4lb.core.model.Protocol;
import dev.l4lb.core.table.Route;
import dev.l4lb.netty.transport.Transport;
import dev.l4lb.netty.echo.EchoServer;
import dev.l4lb.netty.kube.portal.PortalProgram;
import dev.l4lb.netty.log.ConnectionLog;
import dev.l4lb.netty.testing.AdminHttp;
import dev.l4lb.netty.testing.NoLeaks;
import dev.l4lb.netty.testing.Ports;

/** Services of the kinds the reachability table does not cover, through the whole proxier on loopback. */
@ExtendWith(NoLeaks.class)
class ProxierServicesTest {

    /**
     * A DNS-like UDP port: its proxy listener is on the wildcard address, as it must be for
     * REDIRECT portals (the kernel rewrites the destination to the receiving interface's address),
     * and answers come back from the address the client sent to.
     */
    @Test
    void aUdpPortIsServedOnAWildcardProxyListener() throws Exception {
        InetSocketAddress podAddress = Ports.freeUdp();
        try (EchoServer pod = EchoServer.startUdp(List.of(podAddress), Transport.NIO, 1)) {
            ClusterObjects objects = KubeManifests.parse("dns.yaml", """
                    apiVersion: v1
                    kind: Service
                    metadata: {name: dns, namespace: kube-system}
                    spec:
                      clusterIP: 10.96.0.10
                      ports: [{name: dns, port: 53, protocol: UDP}]
                    """ + KubeFixtures.onePodSlice("kube-system", "dns", "dns", "UDP", podAddress, "node-a"));
            NodeContext node = new NodeContext("node-a", Set.of(KubeFixtures.LOOPBACK), List.of(), ip("0.0.0.0"), false);
            try (ProxierRuntime runtime = KubeFixtures.start(node, () -> objects)) {
                Route route = runtime.balancer().snapshot().routes().get(0);
                assertThat(route.port().protocol()).isEqualTo(Protocol.UDP);
                InetSocketAddress proxy = route.port().listen().get(0);
                assertThat(proxy.getAddress().isAnyLocalAddress()).isTrue();
                assertThat(runtime.proxier().plan().portals()).singleElement()
                        .satisfies(p -> assertThat(p.proxyPort()).isEqualTo(proxy.getPort()));

                try (DatagramSocket client = new DatagramSocket(Ports.loopback(0))) {
                    client.setSoTimeout(5000);
                    InetSocketAddress sentTo = Ports.loopback(proxy.getPort());
                    byte[] query = "whoami".getBytes(StandardCharsets.US_ASCII);
                    client.send(new DatagramPacket(query, query.length, sentTo));
                    DatagramPacket answer = new DatagramPacket(new byte[512], 512);
                    client.receive(answer);
                    assertThat(new String(answer.getData(), 0, answer.getLength(), StandardCharsets.US_ASCII))
                            .startsWith("backend=" + Addresses.format(podAddress));
                    assertThat(answer.getSocketAddress()).isEqualTo(sentTo);
                }
            }
        }
    }

    /**
     * A UDP node port under externalTrafficPolicy Local on a node without local endpoints: a client
     * on the node itself is served by every endpoint (kube-proxy's rule for LOCAL-source traffic),
     * one from outside gets nothing, and the node client's session outlives a reload: the prune
     * after it checks the endpoints the client was handed to, not the node port's own (none).
     */
    @Test
    void aUdpNodePortUnderLocalPolicyServesANodeClientFromEveryEndpointAcrossAReload() throws Exception {
        InetSocketAddress podAddress = new InetSocketAddress(ip("127.0.0.11"), Ports.freeUdp().getPort());
        int nodePort = Ports.freeUdp().getPort();
        String dns = """
                apiVersion: v1
                kind: Service
                metadata: {name: dns, namespace: kube-system}
                spec:
                  type: NodePort
                  clusterIP: 10.96.0.10
                  externalTrafficPolicy: Local
                  ports: [{name: dns, port: 53, protocol: UDP, nodePort: %d}]
                """.formatted(nodePort) + KubeFixtures.onePodSlice("kube-system", "dns", "dns", "UDP", podAddress, "node-a");
        AtomicReference<ClusterObjects> objects = new AtomicReference<>(KubeManifests.parse("dns.yaml", dns));
        try (EchoServer pod = EchoServer.startUdp(List.of(podAddress), Transport.NIO, 1);
             ProxierRuntime runtime = KubeFixtures.start(KubeFixtures.node("node-c"), objects::get);
             DatagramSocket fromNode = new DatagramSocket(Ports.loopback(0));
             DatagramSocket fromOutside = new DatagramSocket(new InetSocketAddress(ip("127.0.0.99"), 0))) {
            InetSocketAddress target = Ports.loopback(nodePort);
            String first = whoami(fromNode, target);
            assertThat(first).startsWith("backend=" + Addresses.format(podAddress));

            fromOutside.setSoTimeout(1000);
            byte[] query = "whoami".getBytes(StandardCharsets.US_ASCII);
            fromOutside.send(new DatagramPacket(query, query.length, target));
            org.assertj.core.api.Assertions.assertThatThrownBy(() -> fromOutside.receive(new DatagramPacket(new byte[512], 512)))
                    .isInstanceOf(java.net.SocketTimeoutException.class);
            Route external = runtime.balancer().snapshot().routes().stream()
                    .filter(r -> r.port().name().equals("dns/external")).findFirst().orElseThrow();
            assertThat(external.counters().count(dev.l4lb.core.table.Outcome.NO_ENDPOINT)).isEqualTo(1);

            objects.set(KubeManifests.parse("dns.yaml", dns + "---\n" + service("web")));
            runtime.proxier().syncNow();
            assertThat(runtime.balancer().snapshot().routes()).anyMatch(r -> r.service().name().equals("web"));
            // The same session: the pod sees the same balancer-side address as before.
            assertThat(whoami(fromNode, target)).isEqualTo(first);
        }
    }

    private static String whoami(DatagramSocket client, InetSocketAddress target) throws java.io.IOException {
        client.setSoTimeout(5000);
        byte[] query = "whoami".getBytes(StandardCharsets.US_ASCII);
        client.send(new DatagramPacket(query, query.length, target));
        DatagramPacket answer = new DatagramPacket(new byte[512], 512);
        client.receive(answer);
        return new String(answer.getData(), 0, answer.getLength(), StandardCharsets.US_ASCII);
    }

    /**
     * A LoadBalancer Service with externalTrafficPolicy Local: its healthCheckNodePort answers as
     * kube-proxy's does, 200 with this node's endpoint count while it has one, 503 once it has none.
     */
    @Test
    void theHealthCheckNodePortFollowsTheLocalEndpoints() throws Exception {
        int healthPort = Ports.free();
        String service = """
                apiVersion: v1
                kind: Service
                metadata: {name: web, namespace: shop}
                spec:
                  type: LoadBalancer
                  clusterIP: 10.96.0.20
                  externalTrafficPolicy: Local
                  healthCheckNodePort: %d
                  ports: [{name: http, port: 80, nodePort: %d}]
                ---
                apiVersion: discovery.k8s.io/v1
                kind: EndpointSlice
                metadata: {name: web-1, namespace: shop, labels: {kubernetes.io/service-name: web}}
                addressType: IPv4
                ports: [{name: http, port: 8080}]
                """.formatted(healthPort, Ports.free());
        AtomicReference<ClusterObjects> objects = new AtomicReference<>(KubeManifests.parse("lb.yaml", service + """
                endpoints:
                  - {addresses: [10.1.0.1], nodeName: node-a}
                  - {addresses: [10.1.0.2], nodeName: node-a}
                  - {addresses: [10.1.0.3], nodeName: node-b}
                """));
        try (ProxierRuntime runtime = KubeFixtures.start(KubeFixtures.node("node-a"), objects::get)) {
            InetSocketAddress health = Ports.loopback(healthPort);
            HttpResponse<String> ok = AdminHttp.get(health, "/healthz");
            assertThat(ok.statusCode()).isEqualTo(200);
            assertThat(ok.headers().firstValue("X-Load-Balancing-Endpoint-Weight")).hasValue("2");
            assertThat(AdminHttp.json(ok).path("service").path("namespace").asText()).isEqualTo("shop");
            assertThat(AdminHttp.json(ok).path("service").path("name").asText()).isEqualTo("web");
            assertThat(AdminHttp.json(ok).path("localEndpoints").asInt()).isEqualTo(2);

            objects.set(KubeManifests.parse("lb.yaml", service + "endpoints: [{addresses: [10.1.0.3], nodeName: node-b}]\n"));
            runtime.proxier().syncNow();

            HttpResponse<String> none = AdminHttp.get(health, "/");
            assertThat(none.statusCode()).isEqualTo(503);
            assertThat(AdminHttp.json(none).path("localEndpoints").asInt()).isZero();
        }
    }

    /**
     * At shutdown the health check port closes first, so that load balancers stop sending new
     * connections, while open connections drain for the grace period.
     */
    @Test
    void atShutdownTheHealthCheckPortClosesWhileConnectionsDrain() throws Exception {
        int healthPort = Ports.free();
        int nodePort = Ports.free();
        try (EchoServer pod = KubeFixtures.pods(Ports.free(), 11)) {
            ClusterObjects objects = KubeManifests.parse("lb.yaml", """
                    apiVersion: v1
                    kind: Service
                    metadata: {name: web, namespace: shop}
                    spec:
                      type: LoadBalancer
                      clusterIP: 10.96.0.20
                      externalTrafficPolicy: Local
                      healthCheckNodePort: %d
                      ports: [{name: http, port: 80, nodePort: %d}]
                    """.formatted(healthPort, nodePort)
                    + KubeFixtures.onePodSlice("shop", "web", "http", "TCP", pod.addresses().get(0), "node-a"));
            ProxierRuntime runtime = KubeFixtures.start(KubeFixtures.node("node-a"), () -> objects);
            Thread shutdown = new Thread(() -> runtime.shutdown(Duration.ofSeconds(30)), "shutdown");
            try (java.net.Socket client = dev.l4lb.netty.testing.Sockets.connect(Ports.loopback(nodePort))) {
                assertThat(AdminHttp.get(Ports.loopback(healthPort), "/healthz").statusCode()).isEqualTo(200);
                client.getOutputStream().write("GET / HTTP/1.1\r\nHost: test\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                assertThat(client.getInputStream().read()).isNotEqualTo(-1); // proxied and answered

                shutdown.start();
                org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> {
                    try (java.net.Socket probe = new java.net.Socket()) {
                        probe.connect(Ports.loopback(healthPort), 1000);
                        return false;
                    } catch (java.net.ConnectException refused) {
                        return true;
                    }
                });
                assertThat(shutdown.isAlive()).as("still draining the open connection").isTrue();
            }
            shutdown.join(Duration.ofSeconds(20).toMillis());
            assertThat(shutdown.isAlive()).as("the drain ends with the last connection").isFalse();
        }
    }

    /**
     * A change that arrives while a sync is reading the objects is not lost: it gets a sync of its
     * own, not the 30 s periodic one.
     */
    @Test
    void aChangeDuringASyncGetsASyncOfItsOwn() throws Exception {
        AtomicReference<ClusterObjects> current = new AtomicReference<>(KubeManifests.parse("a.yaml", service("a")));
        java.util.concurrent.atomic.AtomicBoolean holdReads = new java.util.concurrent.atomic.AtomicBoolean();
        java.util.concurrent.CountDownLatch reading = new java.util.concurrent.CountDownLatch(1);
        java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
        ClusterSource source = () -> {
            ClusterObjects read = current.get();
            if (holdReads.getAndSet(false)) {
                reading.countDown();
                try {
                    release.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            return read;
        };
        try (ProxierRuntime runtime = KubeFixtures.start(KubeFixtures.node("node-a"), source)) {
            holdReads.set(true);
            runtime.proxier().changed();
            assertThat(reading.await(10, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
            // The sync has read "a" alone; "b" arrives now.
            current.set(KubeManifests.parse("ab.yaml", service("a") + "---\n" + service("b")));
            runtime.proxier().changed();
            release.countDown();

            org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(10)).until(() ->
                    runtime.balancer().snapshot().routes().stream().anyMatch(r -> r.service().name().equals("b")));
        }
    }

    /**
     * kube-proxy trusts readiness alone and so does l4lb by default: a ready pod whose port
     * refuses stays in service. With --health-checks it is checked, goes down, and its clients go
     * to the pod that answers.
     */
    @Test
    void healthChecksApplyInKubernetesModeOnlyWhenAskedFor() throws Exception {
        int port = Ports.free();
        try (EchoServer pod = KubeFixtures.pods(port, 21)) {
            ClusterObjects objects = KubeManifests.parse("web.yaml", """
                    apiVersion: v1
                    kind: Service
                    metadata: {name: web, namespace: shop}
                    spec: {ports: [{name: http, port: 80}]}
                    ---
                    apiVersion: discovery.k8s.io/v1
                    kind: EndpointSlice
                    metadata: {name: web-1, namespace: shop, labels: {kubernetes.io/service-name: web}}
                    addressType: IPv4
                    ports: [{name: http, port: %d, protocol: TCP}]
                    endpoints: [{addresses: ["127.0.0.21"]}, {addresses: ["127.0.0.22"]}]
                    """.formatted(port));
            dev.l4lb.core.model.HealthPolicy checks = new dev.l4lb.core.model.HealthPolicy(java.util.Optional.of(
                    new dev.l4lb.core.model.HealthCheck(dev.l4lb.core.model.HealthCheck.Kind.TCP, Duration.ofMillis(200),
                            Duration.ofMillis(200), 1, 1, 0, "/", dev.l4lb.core.model.HealthCheck.DEFAULT_EXPECT_STATUS, false,
                            false)), java.util.Optional.empty(), true);
            for (dev.l4lb.core.model.HealthPolicy policy : List.of(dev.l4lb.core.model.HealthPolicy.NONE, checks)) {
                ProxierRuntime.Settings defaults = KubeFixtures.settings(KubeFixtures.node("node-a"), Duration.ZERO);
                ProxierRuntime.Settings settings = new ProxierRuntime.Settings(defaults.node(), defaults.proxyPorts(),
                        defaults.portals(), defaults.serviceCidrs(), defaults.transparentListener(), defaults.nodeIp(),
                        defaults.healthCheckAddress(), defaults.minSyncPeriod(), defaults.syncPeriod(),
                        defaults.healthTimeout(), defaults.followAddresses(), policy);
                try (ProxierRuntime runtime = ProxierRuntime.start(settings, KubeFixtures.admin(), Transport.NIO, 1,
                        ConnectionLog.off(), onChange -> () -> objects)) {
                    Route route = runtime.balancer().snapshot().routes().get(0);
                    dev.l4lb.core.health.EndpointHealth refusing = route.backends().get(1).counters().health();
                    if (policy.enabled()) {
                        org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(10))
                                .until(() -> refusing.state() == dev.l4lb.core.health.HealthState.DOWN);
                        long failures = route.backends().get(1).counters().connectFailures();
                        InetSocketAddress listener = KubeFixtures.listener(runtime, "shop/web", "http");
                        for (int i = 0; i < 10; i++) {
                            assertThat(KubeFixtures.whoAnswers(listener)).isEqualTo("127.0.0.21");
                        }
                        assertThat(route.backends().get(1).counters().connectFailures()).isEqualTo(failures);
                    } else {
                        Thread.sleep(500); // what a check would have needed to take it down
                        // After the wait: the checker takes its targets on its own loop, a moment after the sync.
                        assertThat(runtime.balancer().healthChecker().targets()).isZero();
                        assertThat(refusing.state()).isEqualTo(dev.l4lb.core.health.HealthState.UP);
                    }
                }
            }
        }
    }

    /**
     * A proxy port something else holds is given up for another; the Service is served there
     * rather than waiting for the holder to go.
     */
    @Test
    void aProxyPortThatIsTakenIsReplacedByTheNextOne() throws Exception {
        int first = Ports.free();
        try (java.net.ServerSocket squatter = new java.net.ServerSocket(first, 1, KubeFixtures.LOOPBACK);
             EchoServer pod = EchoServer.start(List.of(Ports.loopback(0)), Transport.NIO, 1)) {
            ClusterObjects objects = KubeManifests.parse("web.yaml", """
                    apiVersion: v1
                    kind: Service
                    metadata: {name: web, namespace: shop}
                    spec: {ports: [{name: http, port: 80}]}
                    """ + KubeFixtures.onePodSlice("shop", "web", "http", "TCP", pod.addresses().get(0), ""));
            ProxierRuntime.Settings settings = new ProxierRuntime.Settings(KubeFixtures.node("node-a"),
                    new dev.l4lb.core.kube.ProxyPortRange(first, first + 9), ProxierRuntime.Portals.OFF, List.of(), null, null,
                    KubeFixtures.LOOPBACK, Duration.ZERO, Duration.ofSeconds(30), Duration.ofSeconds(60), false,
                dev.l4lb.core.model.HealthPolicy.NONE);
            try (ProxierRuntime runtime = ProxierRuntime.start(settings, KubeFixtures.admin(), Transport.NIO, 1,
                    ConnectionLog.off(), onChange -> () -> objects)) {
                InetSocketAddress listener = KubeFixtures.listener(runtime, "shop/web", "http");
                assertThat(listener.getPort()).isNotEqualTo(first).isBetween(first + 1, first + 9);
                assertThat(KubeFixtures.whoAnswers(listener)).isEqualTo("127.0.0.1");

                // The holder keeps its port: a connection to it reaches the squatter, not a proxy listener.
                squatter.setSoTimeout(5000);
                try (java.net.Socket client = new java.net.Socket(KubeFixtures.LOOPBACK, first);
                     java.net.Socket accepted = squatter.accept()) {
                    assertThat(accepted.getPort()).isEqualTo(client.getLocalPort());
                }
            }
        }
    }

    /**
     * Portal rules that failed to apply are no sync for /healthz (as in kube-proxy's
     * syncProxyRules): its last update stays where it was until a sync writes them.
     */
    @Test
    void aSyncWhosePortalsFailedToApplyDoesNotCountAsUpdated() throws Exception {
        java.util.concurrent.atomic.AtomicBoolean rulesApply = new java.util.concurrent.atomic.AtomicBoolean(false);
        PortalProgram failing = new PortalProgram() {
            @Override
            public boolean sync(dev.l4lb.core.kube.ProxierPlan plan) {
                return rulesApply.get();
            }

            @Override
            public boolean active() {
                return true;
            }

            @Override
            public void close() {
            }
        };
        dev.l4lb.core.kube.ProxierHealth health = new dev.l4lb.core.kube.ProxierHealth(Duration.ofSeconds(60));
        ClusterObjects objects = KubeManifests.parse("a.yaml", service("a"));
        try (dev.l4lb.netty.Balancer balancer = dev.l4lb.netty.Balancer.start(
                     new dev.l4lb.core.config.BalancerConfig(List.of(), KubeFixtures.admin()), Transport.NIO, 1);
             ServiceHealthServers healthChecks = new ServiceHealthServers(KubeFixtures.LOOPBACK, () -> true);
             KubeProxier proxier = new KubeProxier(balancer, onChange -> () -> objects, KubeFixtures.node("node-a"),
                     new dev.l4lb.core.kube.ProxyPortRange(Ports.free(), 65535), failing, healthChecks, health,
                     Duration.ZERO, Duration.ofHours(1), () -> Set.of(KubeFixtures.LOOPBACK), dev.l4lb.core.model.HealthPolicy.NONE)) {
            proxier.syncNow();
            assertThat(balancer.snapshot().routes()).as("the listeners serve all the same").hasSize(1);
            assertThat(health.lastUpdated()).isEmpty();

            rulesApply.set(true);
            proxier.syncNow();
            assertThat(health.lastUpdated()).isPresent();
        }
    }

    /** An address the host gets later (a keepalived VIP) is served as an externalIP after the next periodic sync. */
    @Test
    void anExternalIpTheHostGetsLaterIsServedAfterThePeriodicSync() throws Exception {
        InetSocketAddress vip = new InetSocketAddress(ip("127.0.0.5"), Ports.free());
        try (EchoServer pod = EchoServer.start(List.of(Ports.loopback(0)), Transport.NIO, 1);
             dev.l4lb.netty.Balancer balancer = dev.l4lb.netty.Balancer.start(
                     new dev.l4lb.core.config.BalancerConfig(List.of(), KubeFixtures.admin()), Transport.NIO, 1);
             ServiceHealthServers health = new ServiceHealthServers(KubeFixtures.LOOPBACK, () -> true)) {
            ClusterObjects objects = KubeManifests.parse("vip.yaml", """
                    apiVersion: v1
                    kind: Service
                    metadata: {name: web, namespace: shop}
                    spec: {clusterIP: 10.96.0.40, externalIPs: [127.0.0.5], ports: [{name: http, port: %d}]}
                    """.formatted(vip.getPort()) + KubeFixtures.onePodSlice("shop", "web", "http", "TCP", pod.addresses().get(0), ""));
            AtomicReference<Set<java.net.InetAddress>> host = new AtomicReference<>(Set.of(KubeFixtures.LOOPBACK));
            try (KubeProxier proxier = new KubeProxier(balancer, onChange -> () -> objects, KubeFixtures.node("node-a"),
                    new dev.l4lb.core.kube.ProxyPortRange(Ports.free(), 65535), PortalProgram.OFF, health,
                    new dev.l4lb.core.kube.ProxierHealth(Duration.ofSeconds(60)), Duration.ZERO, Duration.ofMillis(200),
                    host::get, dev.l4lb.core.model.HealthPolicy.NONE)) {
                proxier.syncNow();
                assertThat(KubeFixtures.whoAnswers(vip)).isEqualTo(KubeFixtures.REFUSED);

                host.set(Set.of(KubeFixtures.LOOPBACK, vip.getAddress()));
                org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(10)).ignoreExceptions()
                        .until(() -> KubeFixtures.whoAnswers(vip).equals("127.0.0.1"));
            }
        }
    }

    private static String service(String name) {
        return """
                apiVersion: v1
                kind: Service
                metadata: {name: %s, namespace: shop}
                spec: {clusterIP: 10.96.0.%d, ports: [{name: http, port: 80}]}
                """.formatted(name, (int) name.charAt(0));
    }

    private static java.net.InetAddress ip(String text) {
        return Addresses.parseIp(text).orElseThrow();
    }
}

package dev.l4lb.netty;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.l4lb.core.config.BalancerConfig;
import dev.l4lb.core.config.ConfigDiff;
import dev.l4lb.core.model.Addresses;
import dev.l4lb.core.model.ProxyProtocol;
import dev.l4lb.core.model.Service;
import dev.l4lb.core.model.ServicePort;
import dev.l4lb.core.table.Route;
import dev.l4lb.core.table.RoutingTable;
import dev.l4lb.core.table.ServiceSnapshot;
import dev.l4lb.netty.health.HealthChecker;
import dev.l4lb.netty.health.HealthLog;
import dev.l4lb.netty.log.ConnectionLog;
import dev.l4lb.netty.metrics.BalancerMetrics;
import dev.l4lb.netty.tcp.ClientSourceConnects;
import dev.l4lb.netty.tcp.TcpDataPlane;
import dev.l4lb.netty.transport.BindFailure;
import dev.l4lb.netty.transport.Listeners;
import dev.l4lb.netty.transport.Transport;
import dev.l4lb.netty.udp.UdpDataPlane;

/**
 * A running balancer: an event-loop group sized to the cores, the TCP and UDP data planes on
 * it (UDP on a group of its own where its transport differs, {@link Transport#forDatagrams()}),
 * the config in force and its metrics. Started from a validated config, {@link #reload reloaded}
 * with another, stopped by {@link #shutdown}.
 */
public final class Balancer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(Balancer.class);

    private final Transport transport;
    private final int loops;
    private final MultiThreadIoEventLoopGroup group;
    /** The UDP data plane's loops: {@link #group} itself unless UDP runs on another transport ({@link Transport#forDatagrams()}). */
    private final MultiThreadIoEventLoopGroup datagramGroup;
    /** The routing table both data planes read: one snapshot in force for TCP and UDP. */
    private final RoutingTable routing = new RoutingTable();
    private final TcpDataPlane tcp;
    private final UdpDataPlane udp;
    private final ConnectionLog connectionLog;
    private final BalancerMetrics metrics;
    /** Probes the endpoints of ports with a health check; its loop starts with the first check. */
    private final HealthChecker healthChecker;
    private final HealthLog healthLog = new HealthLog();
    private final List<io.netty.channel.Channel> transparent = new ArrayList<>();
    private volatile BalancerConfig config;
    /** When the snapshot in force was applied; null before the first one. */
    private volatile Instant lastUpdated;

    private Balancer(Transport transport, int loops, ConnectionLog connectionLog) {
        this.transport = transport;
        this.loops = loops;
        this.group = transport.newGroup(loops, "l4lb-io");
        Transport datagrams = transport.forDatagrams();
        // Netty starts a loop's thread at its first task: a UDP group costs no thread until a UDP port needs it.
        this.datagramGroup = datagrams == transport ? group : datagrams.newGroup(loops, "l4lb-udp");
        this.connectionLog = connectionLog;
        this.tcp = new TcpDataPlane(transport, group, routing, connectionLog);
        this.udp = new UdpDataPlane(datagrams, datagramGroup, routing, connectionLog);
        this.healthChecker = new HealthChecker(transport);
        this.metrics = new BalancerMetrics(eventLoops(), tcp::unroutedConnections, connectionLog::dropped, tcp.acceptErrors(),
                tcp.descriptors());
    }

    /** {@link #start(BalancerConfig, Transport, int, ConnectionLog)} with no connection log. */
    public static Balancer start(BalancerConfig config, Transport transport, int threads) throws BindFailure {
        return start(config, transport, threads, ConnectionLog.off());
    }

    /**
     * Binds every listener of {@code config} and starts relaying.
     *
     * @param threads       event loops; 0 means one per core
     * @param connectionLog where closed connections are logged ({@link ConnectionLog#off()}: nowhere);
     *                      the balancer closes it on shutdown
     * @throws BindFailure when a listener cannot be bound; nothing is left listening then
     */
    public static Balancer start(BalancerConfig config, Transport transport, int threads, ConnectionLog connectionLog)
            throws BindFailure {
        int loops = threads > 0 ? threads : Runtime.getRuntime().availableProcessors();
        Balancer balancer = new Balancer(transport, loops, connectionLog);
        try {
            balancer.apply(config, System.nanoTime());
        } catch (BindFailure | RuntimeException e) {
            balancer.healthChecker.close();
            balancer.stopLoops(0);
            balancer.metrics.close();
            connectionLog.close(); // it was handed over to this balancer
            throw e;
        }
        balancer.logSummary();
        return balancer;
    }

    /**
     * Puts {@code next} in force without dropping a connection: listeners for new ports are
     * bound before the new snapshot is swapped in, removed ports stop accepting (their open
     * connections go on), endpoint changes apply to new connections, and ClientIP entries stay
     * for the endpoints that remain. When a new listener cannot be bound nothing changes and the
     * reload is rejected. Reloads run one at a time, each timed from {@code startedNanos} (when
     * the file was read).
     */
    public synchronized Reload reload(BalancerConfig next, long startedNanos) {
        try {
            return reloadOrFail(next, startedNanos);
        } catch (BindFailure e) {
            return reject(List.of(e.getMessage()), startedNanos);
        }
    }

    /**
     * As {@link #reload(BalancerConfig, long)}, but a listener that cannot be bound is thrown
     * (nothing changed then), so that a caller which builds configs itself, as the Kubernetes
     * proxier does, can leave that listener out and try again.
     */
    public synchronized Reload reloadOrFail(BalancerConfig next, long startedNanos) throws BindFailure {
        BalancerConfig before = config;
        List<String> warnings = new ArrayList<>();
        if (!next.admin().equals(before.admin())) {
            warnings.add("admin addresses changed: they are read at start only; restart to move them");
        }
        try {
            Changed changed = apply(next, startedNanos);
            Reload done = new Reload(true, ConfigDiff.between(before.services(), next.services()),
                    changed.bound(), changed.closed(), List.of(), warnings, since(startedNanos));
            metrics.reload(true);
            LOG.info("config reloaded in {} ms: {}{}", done.took().toMillis(), done.changes().summary(),
                    listenerChanges(done));
            return done;
        } catch (RuntimeException e) {
            // A bug rather than a bad file; the running config stays all the same.
            LOG.error("config reload failed", e);
            return reject(List.of("internal error: " + e), startedNanos);
        }
    }

    /** Counts a reload whose config could not be used and reports it; the running config stays. */
    public Reload reject(List<String> errors, long startedNanos) {
        metrics.reload(false);
        LOG.warn("config reload rejected, the running config stays in force: {}", String.join("; ", errors));
        return Reload.rejected(errors, since(startedNanos));
    }

    /** Listener addresses a switch opened and closed, both protocols. */
    private record Changed(Set<InetSocketAddress> bound, Set<InetSocketAddress> closed) {
    }

    private Changed apply(BalancerConfig next, long startedNanos) throws BindFailure {
        ServiceSnapshot snapshot = ServiceSnapshot.build(next.services(), routing.snapshot());
        Listeners.Prepared tcpPrepared = tcp.prepare(snapshot);
        Listeners.Prepared udpPrepared;
        try {
            udpPrepared = udp.prepare(snapshot);
        } catch (BindFailure | RuntimeException e) {
            tcp.abandon(tcpPrepared);
            throw e;
        }
        try {
            metrics.bind(snapshot);
        } catch (RuntimeException e) {
            // Nothing switched yet: the new listeners go, the old ones serve on.
            tcp.abandon(tcpPrepared);
            udp.abandon(udpPrepared);
            throw e;
        }
        snapshot.activate(healthLog);
        // One write puts the snapshot in force for both protocols; then the listeners follow it.
        routing.switchTo(snapshot, tcpPrepared.removed(), udpPrepared.removed());
        tcp.switchTo(tcpPrepared);
        udp.switchTo(udpPrepared);
        tcp.clientSources().forgetAllBut(snapshot);
        healthChecker.apply(snapshot);
        config = next;
        Instant now = Instant.now();
        lastUpdated = now;
        metrics.applied(now, System.nanoTime() - startedNanos);
        Set<InetSocketAddress> bound = new LinkedHashSet<>(tcpPrepared.added().keySet());
        bound.addAll(udpPrepared.added().keySet());
        Set<InetSocketAddress> closed = new LinkedHashSet<>(tcpPrepared.removed());
        closed.addAll(udpPrepared.removed());
        return new Changed(bound, closed);
    }

    /** Whether endpoints may be connected from clients' addresses on this node, and where not. */
    public ClientSourceConnects clientSources() {
        return tcp.clientSources();
    }

    public Transport transport() {
        return transport;
    }

    /** The config in force. */
    public BalancerConfig config() {
        return config;
    }

    /** When the snapshot in force was applied; null before the first one. */
    public Instant lastUpdated() {
        return lastUpdated;
    }

    /** The routing table in force. */
    public ServiceSnapshot snapshot() {
        return routing.snapshot();
    }

    public HealthChecker healthChecker() {
        return healthChecker;
    }

    public TcpDataPlane tcp() {
        return tcp;
    }

    public BalancerMetrics metrics() {
        return metrics;
    }

    /**
     * Stops accepting (the transparent listener resets what it still gets), lets open connections
     * finish for up to {@code grace}, then closes what is left and stops the event loops.
     */
    public void shutdown(Duration grace) {
        // The transparent listener stays open through the drain, resetting what it accepts: its
        // TPROXY rules stay until the drain ends, and without a socket they would drop new SYNs.
        tcp.refuseTransparent();
        healthChecker.close();
        tcp.closeListeners();
        udp.closeListeners();
        long deadline = System.nanoTime() + grace.toNanos();
        int active = routing.snapshot().activeConnections();
        if (active > 0) {
            LOG.info("listeners closed; draining {} connection(s) for up to {} s", active, grace.toSeconds());
        }
        while (active > 0 && System.nanoTime() < deadline) {
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
            active = routing.snapshot().activeConnections();
        }
        if (active > 0) {
            LOG.info("grace period over: closing {} connection(s)", active);
            tcp.closeConnections(2000);
        }
        closeTransparentListener();
        stopLoops(2);
        connectionLog.close();
        metrics.close();
    }

    /**
     * Opens the transparent listener TPROXY portals deliver to: its connections are routed by
     * their original destination, the intercepted ClusterIP:port of a service port. Closed with
     * the balancer.
     *
     * @return the bound address
     * @throws BindFailure when it cannot be bound (IP_TRANSPARENT needs CAP_NET_ADMIN)
     */
    public synchronized InetSocketAddress openTransparentListener(InetSocketAddress address) throws BindFailure {
        List<io.netty.channel.Channel> channels = tcp.bindTransparent(group, address);
        transparent.addAll(channels);
        return (InetSocketAddress) channels.get(0).localAddress();
    }

    /** Closes the transparent listener: when the portals that would deliver to it could not be set up, and at shutdown. */
    public synchronized void closeTransparentListener() {
        transparent.forEach(ch -> ch.close().syncUninterruptibly());
        transparent.clear();
    }

    /** Every event loop of the data plane, TCP's and (when they differ) UDP's. */
    private List<EventExecutor> eventLoops() {
        List<EventExecutor> all = new ArrayList<>();
        group.forEach(all::add);
        if (datagramGroup != group) {
            datagramGroup.forEach(all::add);
        }
        return all;
    }

    private void stopLoops(int timeoutSeconds) {
        Future<?> tcpLoops = group.shutdownGracefully(0, timeoutSeconds, TimeUnit.SECONDS);
        if (datagramGroup != group) {
            datagramGroup.shutdownGracefully(0, timeoutSeconds, TimeUnit.SECONDS).syncUninterruptibly();
        }
        tcpLoops.syncUninterruptibly();
    }

    /** Shuts down with no grace period. */
    @Override
    public void close() {
        shutdown(Duration.ZERO);
    }

    /** The start-up summary: what runs, how, and every listener with the port it serves. */
    private void logSummary() {
        List<Service> services = config.services();
        int ports = services.stream().mapToInt(s -> s.ports().size()).sum();
        LOG.info("l4lb {} serving {} service(s), {} port(s) on transport {}{} with {} event loop(s), {} listener socket(s){}{}",
                Version.current(), services.size(), ports, transport.displayName(),
                udp.transport() != transport ? " (UDP on " + udp.transport().displayName() + ")" : "", loops,
                tcp.listenerSockets() + udp.listenerSockets(),
                transport.reusePortOption() != null ? " (SO_REUSEPORT: one per listener and loop)" : "",
                connectionLog.enabled() ? "; connection log on" : "");
        for (Route route : routing.snapshot().routes()) {
            ServicePort port = route.port();
            for (InetSocketAddress listen : port.listen()) {
                LOG.info("  {} {} -> {} ({}, {} endpoint(s){})", port.protocol(), Addresses.format(listen),
                        route.displayName(), port.policy().scheduler().configName(), port.endpoints().size(),
                        port.policy().proxyProtocol() == ProxyProtocol.NONE ? ""
                                : ", PROXY " + port.policy().proxyProtocol().configName());
            }
        }
    }

    private static String listenerChanges(Reload done) {
        StringBuilder out = new StringBuilder();
        done.listenersBound().forEach(a -> out.append("; listening on ").append(Addresses.format(a)));
        done.listenersClosed().forEach(a -> out.append("; closed ").append(Addresses.format(a)));
        return out.toString();
    }

    private static Duration since(long startedNanos) {
        return Duration.ofNanos(System.nanoTime() - startedNanos);
    }
}

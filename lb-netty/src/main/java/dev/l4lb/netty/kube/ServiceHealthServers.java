package dev.l4lb.netty.kube;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.timeout.ReadTimeoutHandler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.l4lb.core.kube.ServiceHealth;
import dev.l4lb.core.model.Addresses;
import dev.l4lb.netty.transport.BindFailure;
import dev.l4lb.netty.transport.Transport;

/**
 * kube-proxy's service health check servers: one small HTTP server per healthCheckNodePort of an
 * externalTrafficPolicy: Local service, telling cloud load balancers whether this node has an
 * endpoint of it (pkg/proxy/healthcheck/service_health.go).
 *
 * <p>All servers share one event loop of their own: a health probe must not wait behind the data
 * plane, and the traffic is a few small requests a second. {@link #sync} is called from the
 * watcher's thread; the handlers read the published answers on the event loop.
 */
public final class ServiceHealthServers implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(ServiceHealthServers.class);
    /** Health checkers send a bare GET; anything larger is not for us. */
    private static final int MAX_REQUEST_BYTES = 8 << 10;

    private final List<InetAddress> bindAddresses;
    private final BooleanSupplier proxierHealthy;
    private final EventLoopGroup group;
    /** What each port answers; replaced whole on each sync so a handler reads one consistent map. */
    private volatile Map<Integer, ServiceHealth> answers = Map.of();

    // Guarded by this.
    private final Map<Integer, Listener> listening = new HashMap<>();
    /** Ports whose bind failed and was logged; logged again only after they recover or go. */
    private final Set<Integer> failing = new HashSet<>();
    /** Ports claimed by two services, logged once while it lasts. */
    private final Set<Integer> duplicated = new HashSet<>();
    private boolean closed;

    /** Servers on one address. */
    public ServiceHealthServers(InetAddress bindAddress, BooleanSupplier proxierHealthy) {
        this(List.of(bindAddress), proxierHealthy);
    }

    /**
     * @param bindAddresses  where every health check port listens: the wildcard address, or as
     *                       kube-proxy with --nodeport-addresses, each local address in them
     * @param proxierHealthy whether the proxier keeps up (kube-proxy's serviceProxyHealthy); a
     *                       node whose proxier is stale answers 503 even with local endpoints
     */
    public ServiceHealthServers(List<InetAddress> bindAddresses, BooleanSupplier proxierHealthy) {
        this.bindAddresses = List.copyOf(bindAddresses);
        this.proxierHealthy = Objects.requireNonNull(proxierHealthy, "proxierHealthy");
        this.group = Transport.NIO.newGroup(1, "l4lb-svc-health");
    }

    /**
     * Makes the servers match {@code services}: listens on new ports, closes the ports no service
     * has any more (and their connections), and gives the ports that stay their new answers
     * without rebinding. A port that cannot be bound is logged once and tried again on the next
     * sync; it never stops the others.
     */
    public synchronized void sync(Collection<ServiceHealth> services) {
        if (closed) {
            throw new IllegalStateException("service health servers are closed");
        }
        Map<Integer, ServiceHealth> wanted = new LinkedHashMap<>();
        Set<Integer> clashes = new HashSet<>();
        for (ServiceHealth service : services) {
            ServiceHealth first = wanted.putIfAbsent(service.nodePort(), service);
            if (first != null && !sameService(first, service)) {
                clashes.add(service.nodePort());
                if (duplicated.add(service.nodePort())) {
                    // The API server allocates healthCheckNodePorts uniquely, so this is a bug upstream of us.
                    LOG.warn("healthCheckNodePort {} is claimed by both {}/{} and {}/{}; it answers for {}/{}",
                            service.nodePort(), first.namespace(), first.name(), service.namespace(), service.name(),
                            first.namespace(), first.name());
                }
            }
        }
        duplicated.retainAll(clashes);
        // Published first, so a port bound below answers with its count from its first request.
        answers = Map.copyOf(wanted);

        for (var it = listening.entrySet().iterator(); it.hasNext(); ) {
            var entry = it.next();
            if (!wanted.containsKey(entry.getKey())) {
                // Waits, so that the port refuses connections once sync returns.
                entry.getValue().channels().close().awaitUninterruptibly();
                it.remove();
                LOG.debug("health check port {} closed", entry.getKey());
            }
        }
        failing.retainAll(wanted.keySet());
        for (ServiceHealth service : wanted.values()) {
            if (!listening.containsKey(service.nodePort())) {
                listen(service);
            }
        }
    }

    /** The ports listening now. */
    public synchronized Set<Integer> ports() {
        return new TreeSet<>(listening.keySet());
    }

    /** The server channel on {@code port}, or null: lets a test tell a kept listener from a rebound one. */
    synchronized Channel listener(int port) {
        Listener listener = listening.get(port);
        return listener == null ? null : listener.server();
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        listening.values().forEach(listener -> listener.channels().close().awaitUninterruptibly());
        listening.clear();
        answers = Map.of();
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    private void listen(ServiceHealth service) {
        int port = service.nodePort();
        // Closing stays closed: a connection accepted while the port is being closed is closed too.
        ChannelGroup connections = new DefaultChannelGroup("health-check-" + port, group.next(), true);
        List<Channel> servers = new ArrayList<>(bindAddresses.size());
        for (InetAddress bindAddress : bindAddresses) {
            InetSocketAddress address = new InetSocketAddress(bindAddress, port);
            ChannelFuture bound = new ServerBootstrap()
                    .group(group)
                    .channel(Transport.NIO.serverSocketChannel())
                    .childHandler(new ChannelInitializer<>() {
                        @Override
                        protected void initChannel(Channel ch) {
                            connections.add(ch);
                            ch.pipeline().addLast(
                                    // An idle keep-alive connection is closed; a slow client cannot hold one open.
                                    new ReadTimeoutHandler(60),
                                    new HttpServerCodec(),
                                    new HttpObjectAggregator(MAX_REQUEST_BYTES),
                                    new ServiceHealthHandler(port, p -> answers.get(p), proxierHealthy));
                        }
                    })
                    .bind(address)
                    .awaitUninterruptibly();
            if (!bound.isSuccess()) {
                connections.close().awaitUninterruptibly(); // all addresses of the port, or none
                if (failing.add(port)) {
                    LOG.warn("{}; trying again on the next sync", new BindFailure(address,
                            "the health check of service " + service.namespace() + "/" + service.name(), bound.cause())
                            .getMessage());
                }
                return;
            }
            connections.add(bound.channel());
            servers.add(bound.channel());
        }
        if (servers.isEmpty()) {
            return; // no local address in --nodeport-addresses: nowhere to listen, as for the node ports
        }
        listening.put(port, new Listener(servers.get(0), connections));
        String where = servers.stream().map(ch -> Addresses.format((InetSocketAddress) ch.localAddress()))
                .reduce((a, b) -> a + ", " + b).orElse("");
        if (failing.remove(port)) {
            LOG.info("health check of service {}/{} now listening on {}", service.namespace(), service.name(), where);
        } else {
            LOG.debug("health check of service {}/{} listening on {}", service.namespace(), service.name(), where);
        }
    }

    /** A listening port: its server channel, and it with the connections it accepted, to close together. */
    private record Listener(Channel server, ChannelGroup channels) {
    }

    private static boolean sameService(ServiceHealth a, ServiceHealth b) {
        return a.namespace().equals(b.namespace()) && a.name().equals(b.name());
    }
}

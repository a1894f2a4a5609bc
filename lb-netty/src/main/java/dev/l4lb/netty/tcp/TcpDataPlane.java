package dev.l4lb.netty.tcp;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.AdaptiveRecvByteBufAllocator;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.util.concurrent.EventExecutor;

import dev.l4lb.core.model.Addresses;
import dev.l4lb.core.model.Protocol;
import dev.l4lb.core.model.ServicePort;
import dev.l4lb.core.table.Route;
import dev.l4lb.core.table.ServiceSnapshot;
import dev.l4lb.netty.BindFailure;
import dev.l4lb.netty.Transport;
import dev.l4lb.netty.log.ConnectionLog;

/**
 * The TCP side of the data plane: the listeners of every TCP service port and the snapshot their
 * connections are routed by. With a transport that has SO_REUSEPORT each listener is bound once
 * per event loop, and a connection stays on the loop that accepted it, backend side included.
 *
 * <p>A reload {@link #prepare prepares} the listeners the next snapshot adds (bound, but not
 * accepting yet: the kernel queues their connections) and then {@link #switchTo switches}: the
 * snapshot is swapped in, the new listeners start accepting and the ones it no longer has are
 * closed. Listeners that stay are never touched, so their clients see nothing of a reload.
 * Connections the kernel completed on a removed listener before it closed are still served, by
 * the route that listener had.
 */
public final class TcpDataPlane {
    /**
     * Reads grow with the traffic up to 256 KiB (Netty's default stops at 64 KiB): bulk streams
     * move in fewer, larger syscalls; small request/response traffic keeps small buffers.
     */
    static final AdaptiveRecvByteBufAllocator READS = new AdaptiveRecvByteBufAllocator(64, 2048, 256 << 10);
    /** Pause a side's reads once 512 KiB wait for its peer; resume below 128 KiB. */
    static final WriteBufferWaterMark WATER_MARK = new WriteBufferWaterMark(128 << 10, 512 << 10);

    private final Transport transport;
    private final EventLoopGroup group;
    private final ConnectionLog connectionLog;
    private final LongAdder unrouted = new LongAdder();
    /** Listener sockets by address: one, or one per event loop with SO_REUSEPORT. */
    private final Map<InetSocketAddress, List<Channel>> listeners = new LinkedHashMap<>();
    private volatile ServiceSnapshot snapshot = ServiceSnapshot.empty();
    /** The routes of the listeners the last switch removed, for connections they accepted before closing. */
    private volatile Map<InetSocketAddress, Route> retired = Map.of();

    public TcpDataPlane(Transport transport, EventLoopGroup group, ConnectionLog connectionLog) {
        this.transport = transport;
        this.group = group;
        this.connectionLog = connectionLog;
    }

    /**
     * Listeners bound for a snapshot that is not in force yet, and not accepting.
     *
     * @param added   the new listeners' sockets by address
     * @param removed addresses bound now that the next snapshot does not have
     */
    public record Prepared(Map<InetSocketAddress, List<Channel>> added, Set<InetSocketAddress> removed) {
    }

    public Transport transport() {
        return transport;
    }

    /** The snapshot new connections are routed by. */
    public ServiceSnapshot snapshot() {
        return snapshot;
    }

    /**
     * The route for a connection accepted on {@code listener}: the snapshot's, or, for a listener
     * the last switch removed, the one it had then; null when neither has one.
     */
    Route route(InetSocketAddress listener) {
        Route route = snapshot.lookupTcp(listener);
        return route != null ? route : retired.get(listener);
    }

    public ConnectionLog connectionLog() {
        return connectionLog;
    }

    /**
     * Binds the TCP listeners {@code next} has and this plane does not, without accepting on
     * them yet. On any failure, closes what it bound and throws: nothing changes then.
     */
    public synchronized Prepared prepare(ServiceSnapshot next) throws BindFailure {
        Map<InetSocketAddress, List<Channel>> added = new LinkedHashMap<>();
        Set<InetSocketAddress> wanted = new LinkedHashSet<>();
        for (Route route : next.routes()) {
            ServicePort port = route.port();
            if (port.protocol() != Protocol.TCP) {
                continue;
            }
            for (InetSocketAddress address : port.listen()) {
                wanted.add(address);
            }
        }
        Set<InetSocketAddress> removed = new LinkedHashSet<>(listeners.keySet());
        removed.removeAll(wanted);
        for (Route route : next.routes()) {
            if (route.port().protocol() != Protocol.TCP) {
                continue;
            }
            for (InetSocketAddress address : route.port().listen()) {
                if (listeners.containsKey(address) || added.containsKey(address)) {
                    continue;
                }
                try {
                    added.put(address, bindListener(address, overlapping(address, removed)));
                } catch (Exception e) {
                    added.forEach(this::closeAndAwait);
                    throw new BindFailure(address, route.displayName(), e);
                }
            }
        }
        return new Prepared(added, removed);
    }

    /**
     * Whether {@code address} shares its port with a listener of ours that this reload removes
     * (127.0.0.1:80 widened to 0.0.0.0:80, or the reverse): then the new one is bound beside the
     * old one, which SO_REUSEPORT allows, rather than probed for and found taken by ourselves.
     */
    private boolean overlapping(InetSocketAddress address, Set<InetSocketAddress> removed) throws IOException {
        boolean overlap = false;
        for (InetSocketAddress ours : listeners.keySet()) {
            boolean samePort = ours.getPort() == address.getPort() && (ours.getAddress().equals(address.getAddress())
                    || ours.getAddress().isAnyLocalAddress() || address.getAddress().isAnyLocalAddress());
            if (!samePort) {
                continue;
            }
            if (!removed.contains(ours)) {
                throw new IOException("it overlaps this balancer's listener " + Addresses.format(ours) + ", which stays");
            }
            overlap = true;
        }
        if (overlap && transport.reusePortOption() == null) {
            throw new IOException("it replaces this balancer's listener on the same port, which the " + transport.displayName()
                    + " transport cannot hold open beside it (no SO_REUSEPORT): restart to apply this change");
        }
        return overlap;
    }

    /**
     * Puts {@code next} in force: swaps the snapshot in with one write (connections in flight
     * keep their backends), then starts accepting on the prepared listeners and closes the
     * listeners {@code next} no longer has (their established connections go on).
     */
    public synchronized void switchTo(ServiceSnapshot next, Prepared prepared) {
        Map<InetSocketAddress, Route> leaving = new HashMap<>();
        for (InetSocketAddress address : prepared.removed()) {
            Route before = snapshot.lookupTcp(address);
            if (before != null) {
                leaving.put(address, before);
            }
        }
        retired = leaving; // before the swap: a connection that misses the new snapshot finds its route here
        next.activate();
        snapshot = next;
        prepared.added().forEach((address, channels) -> {
            listeners.put(address, channels);
            channels.forEach(ch -> ch.config().setAutoRead(true));
        });
        for (InetSocketAddress address : prepared.removed()) {
            closeAndAwait(address, listeners.remove(address));
        }
    }

    /** Closes listeners prepared for a snapshot that will not be applied. */
    public synchronized void abandon(Prepared prepared) {
        prepared.added().forEach(this::closeAndAwait);
    }

    /** The addresses listened on now. */
    public synchronized Set<InetSocketAddress> listenAddresses() {
        return Set.copyOf(listeners.keySet());
    }

    /** Listener sockets bound now (one per address, or one per address and event loop). */
    public synchronized int listenerCount() {
        return listeners.values().stream().mapToInt(List::size).sum();
    }

    /** Stops accepting: closes every listener; established connections go on. */
    public synchronized void closeListeners() {
        listeners.forEach(this::closeAndAwait);
        listeners.clear();
    }

    private static void close(List<Channel> channels) {
        for (Channel listener : channels) {
            listener.close().syncUninterruptibly();
        }
    }

    /**
     * Closes an address's listeners and returns once the kernel no longer accepts there. On NIO,
     * Netty's close completes before the socket is really closed (the JDK closes a registered
     * channel only at its selector's next select) and until then the kernel keeps completing
     * handshakes, so a plain bind probes for the moment it is gone. The native transports close
     * at once (and may share the port with a wildcard listener of ours, which a probe would meet).
     */
    private void closeAndAwait(InetSocketAddress address, List<Channel> channels) {
        close(channels);
        if (transport.reusePortOption() != null) {
            return;
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
        while (System.nanoTime() < deadline) {
            try (ServerSocket probe = new ServerSocket()) {
                probe.bind(address, 1);
                return;
            } catch (IOException stillListening) {
                // the selector has not run yet; or someone else took the port: give up at the deadline
            }
            try {
                Thread.sleep(1);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    /** Connections that arrived on a listener the current snapshot has no route for. */
    public long unroutedConnections() {
        return unrouted.sum();
    }

    void countUnrouted() {
        unrouted.increment();
    }

    /**
     * Binds one listener address, not accepting yet; on failure closes what it bound. Unless
     * {@code besideOurOwn}, a plain bind first checks that nobody listens there already.
     */
    private List<Channel> bindListener(InetSocketAddress address, boolean besideOurOwn)
            throws InterruptedException, IOException {
        ChannelInitializer<Channel> accept = new ChannelInitializer<>() {
            @Override
            protected void initChannel(Channel ch) {
                ch.pipeline().addLast("connect", new TcpConnectHandler(address, TcpDataPlane.this));
            }
        };
        List<Channel> bound = new ArrayList<>();
        try {
            if (transport.reusePortOption() == null) {
                bound.add(serverBootstrap(group, accept).bind(address).sync().channel());
                return bound;
            }
            if (!besideOurOwn) {
                refuseIfTaken(address);
            }
            for (EventExecutor executor : group) {
                // Accept and relay on the same loop: no hand-off between threads per connection.
                EventLoop loop = (EventLoop) executor;
                ChannelFuture listening = serverBootstrap(loop, accept)
                        .option(transport.reusePortOption(), true)
                        .bind(address).sync();
                bound.add(listening.channel());
            }
            return bound;
        } catch (InterruptedException | IOException | RuntimeException e) {
            close(bound);
            throw e;
        }
    }

    /**
     * SO_REUSEPORT lets every socket that sets it share a port, so a second balancer (or anything
     * else binding with the option) would silently split our traffic. A plain bind first fails
     * with "address in use" when anyone listens there already.
     */
    private static void refuseIfTaken(InetSocketAddress address) throws IOException {
        try (ServerSocket probe = new ServerSocket()) {
            probe.bind(address, 1);
        }
    }

    private ServerBootstrap serverBootstrap(EventLoopGroup loops, ChannelInitializer<Channel> accept) {
        ServerBootstrap bootstrap = new ServerBootstrap();
        transport.forEachStreamOption(bootstrap::childOption);
        return bootstrap
                .group(loops, loops)
                .channel(transport.serverSocketChannel())
                .option(ChannelOption.SO_BACKLOG, 4096)
                // Not accepting until switchTo: the snapshot that routes this listener is not in force yet.
                .option(ChannelOption.AUTO_READ, false)
                .childOption(ChannelOption.AUTO_READ, false)
                .childOption(ChannelOption.ALLOW_HALF_CLOSURE, true)
                .childOption(ChannelOption.RCVBUF_ALLOCATOR, READS)
                .childOption(ChannelOption.WRITE_BUFFER_WATER_MARK, WATER_MARK)
                .childHandler(accept); // TCP_NODELAY is Netty's default for socket channels
    }
}

package dev.l4lb.netty.tcp;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.util.ArrayList;
import java.util.List;
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

import dev.l4lb.core.model.Protocol;
import dev.l4lb.core.model.ServicePort;
import dev.l4lb.core.table.Route;
import dev.l4lb.core.table.ServiceSnapshot;
import dev.l4lb.netty.BindFailure;
import dev.l4lb.netty.Transport;

/**
 * The TCP side of the data plane: the listeners of every TCP service port and the snapshot their
 * connections are routed by. With a transport that has SO_REUSEPORT each listener is bound once
 * per event loop, and a connection stays on the loop that accepted it, backend side included.
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
    private final LongAdder unrouted = new LongAdder();
    private final List<Channel> listeners = new ArrayList<>();
    private volatile ServiceSnapshot snapshot = ServiceSnapshot.empty();

    public TcpDataPlane(Transport transport, EventLoopGroup group) {
        this.transport = transport;
        this.group = group;
    }

    public Transport transport() {
        return transport;
    }

    /** The snapshot new connections are routed by. */
    public ServiceSnapshot snapshot() {
        return snapshot;
    }

    /** Swaps in a new snapshot with one write; connections in flight keep their backends. */
    public void apply(ServiceSnapshot next) {
        next.activate();
        snapshot = next;
    }

    /**
     * Binds every TCP listener of the current snapshot. On any failure, closes what it bound and
     * throws, so nothing is left listening.
     */
    public synchronized void bind() throws BindFailure {
        for (Route route : snapshot.routes()) {
            ServicePort port = route.port();
            if (port.protocol() != Protocol.TCP) {
                continue;
            }
            for (InetSocketAddress address : port.listen()) {
                try {
                    bindListener(address);
                } catch (Exception e) {
                    closeListeners();
                    throw new BindFailure(address, route.displayName(), e);
                }
            }
        }
    }

    /** Listener sockets bound now (one per address, or one per address and event loop). */
    public synchronized int listenerCount() {
        return listeners.size();
    }

    /** Stops accepting: closes every listener; established connections go on. */
    public synchronized void closeListeners() {
        for (Channel listener : listeners) {
            listener.close().syncUninterruptibly();
        }
        listeners.clear();
    }

    /** Connections that arrived on a listener the current snapshot has no route for. */
    public long unroutedConnections() {
        return unrouted.sum();
    }

    void countUnrouted() {
        unrouted.increment();
    }

    private void bindListener(InetSocketAddress address) throws InterruptedException, IOException {
        ChannelInitializer<Channel> accept = new ChannelInitializer<>() {
            @Override
            protected void initChannel(Channel ch) {
                ch.pipeline().addLast("connect", new TcpConnectHandler(address, TcpDataPlane.this));
            }
        };
        if (transport.reusePortOption() == null) {
            listeners.add(serverBootstrap(group, accept).bind(address).sync().channel());
            return;
        }
        refuseIfTaken(address);
        for (EventExecutor executor : group) {
            // Accept and relay on the same loop: no hand-off between threads per connection.
            EventLoop loop = (EventLoop) executor;
            ChannelFuture bound = serverBootstrap(loop, accept)
                    .option(transport.reusePortOption(), true)
                    .bind(address).sync();
            listeners.add(bound.channel());
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
                .childOption(ChannelOption.AUTO_READ, false)
                .childOption(ChannelOption.ALLOW_HALF_CLOSURE, true)
                .childOption(ChannelOption.RCVBUF_ALLOCATOR, READS)
                .childOption(ChannelOption.WRITE_BUFFER_WATER_MARK, WATER_MARK)
                .childHandler(accept); // TCP_NODELAY is Netty's default for socket channels
    }
}

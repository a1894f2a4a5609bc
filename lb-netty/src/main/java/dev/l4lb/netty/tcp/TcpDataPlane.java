package dev.l4lb.netty.tcp;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.LongAdder;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.AdaptiveRecvByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.util.concurrent.EventExecutor;

import dev.l4lb.core.model.Protocol;
import dev.l4lb.core.table.Route;
import dev.l4lb.core.table.ServiceSnapshot;
import dev.l4lb.netty.Listeners;
import dev.l4lb.netty.Transport;
import dev.l4lb.netty.log.ConnectionLog;

/**
 * The TCP side of the data plane: the listeners of every TCP service port and the snapshot their
 * connections are routed by. With a transport that has SO_REUSEPORT each listener is bound once
 * per event loop, and a connection stays on the loop that accepted it, backend side included.
 * Reloads change the listeners through {@link #listeners()} without dropping a connection.
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
    private final Listeners listeners;

    public TcpDataPlane(Transport transport, EventLoopGroup group, ConnectionLog connectionLog) {
        this.transport = transport;
        this.group = group;
        this.connectionLog = connectionLog;
        this.listeners = new Listeners(Protocol.TCP, transport, new Listeners.Binder() {
            @Override
            public List<Channel> bind(InetSocketAddress address, boolean besideOurOwn) throws Exception {
                return bindListener(address, besideOurOwn);
            }

            @Override
            public void probe(InetSocketAddress address) throws IOException {
                refuseIfTaken(address);
            }
        });
    }

    public Transport transport() {
        return transport;
    }

    /** The TCP listeners and the snapshot they route by. */
    public Listeners listeners() {
        return listeners;
    }

    /** The snapshot new connections are routed by. */
    public ServiceSnapshot snapshot() {
        return listeners.snapshot();
    }

    /** The route for a connection accepted on {@code listener} (see {@link Listeners#route}). */
    Route route(InetSocketAddress listener) {
        return listeners.route(listener);
    }

    public ConnectionLog connectionLog() {
        return connectionLog;
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
            bound.forEach(ch -> ch.close().syncUninterruptibly());
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
                // Not accepting until the switch: the snapshot that routes this listener is not in force yet.
                .option(ChannelOption.AUTO_READ, false)
                .childOption(ChannelOption.AUTO_READ, false)
                .childOption(ChannelOption.ALLOW_HALF_CLOSURE, true)
                .childOption(ChannelOption.RCVBUF_ALLOCATOR, READS)
                .childOption(ChannelOption.WRITE_BUFFER_WATER_MARK, WATER_MARK)
                .childHandler(accept); // TCP_NODELAY is Netty's default for socket channels
    }
}

package dev.l4lb.netty.tcp;

import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.LongAdder;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.AdaptiveRecvByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelConfig;
import io.netty.channel.ChannelException;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.util.concurrent.EventExecutor;
import org.jspecify.annotations.Nullable;

import dev.l4lb.core.model.Protocol;
import dev.l4lb.core.table.Route;
import dev.l4lb.core.table.RoutingTable;
import dev.l4lb.core.table.ServerNameRoutes;
import dev.l4lb.core.table.ServiceSnapshot;
import dev.l4lb.netty.transport.AcceptErrors;
import dev.l4lb.netty.transport.BindFailure;
import dev.l4lb.netty.transport.ListenerPause;
import dev.l4lb.netty.transport.Listeners;
import dev.l4lb.netty.transport.Transport;
import dev.l4lb.netty.log.ConnectionLog;

/**
 * The TCP side of the data plane: the listeners of every TCP service port, their connections
 * routed by the balancer's {@link RoutingTable}. With a transport that has SO_REUSEPORT each
 * listener is bound once per event loop, and a connection stays on the loop that accepted it,
 * backend side included. A reload {@link #prepare prepares} the listeners the next snapshot adds
 * and {@link #switchTo switches} to them once that snapshot is in force, dropping no connection.
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
    private final ConnectionLog connectionLog;
    private final LongAdder unrouted = new LongAdder();
    /** Shared by the descriptor budget and failed accepts, so that each lifts only its own pause. */
    private final ListenerPause pause = new ListenerPause();
    private final AcceptErrors acceptErrors = new AcceptErrors("TCP listener", pause);
    /** The transparent listener's sockets (TPROXY portals), paused and resumed with the others. */
    private final List<Channel> transparentListeners = new CopyOnWriteArrayList<>();
    private final DescriptorBudget descriptors;
    private final OpenConnections open;
    private final RoutingTable routing;
    private final Listeners listeners;
    private final ClientSourceConnects clientSources;

    public TcpDataPlane(Transport transport, EventLoopGroup group, RoutingTable routing, ConnectionLog connectionLog) {
        this.transport = transport;
        this.routing = routing;
        this.connectionLog = connectionLog;
        this.listeners = new Listeners(Protocol.TCP, transport, group,
                (loops, address) -> serverBootstrap(loops, new ListenerRouting.ByListener(address)));
        this.descriptors = DescriptorBudget.ofThisProcess(() -> {
            List<Channel> all = new ArrayList<>(listeners.socketsNow()); // never listeners' lock: see socketsNow
            all.addAll(transparentListeners);
            return all;
        }, pause);
        this.open = new OpenConnections(group);
        this.clientSources = new ClientSourceConnects(transport.transparentOption() == null
                ? "the " + transport.displayName() + " transport cannot make transparent sockets (epoll and io_uring can)" : null);
    }

    public Transport transport() {
        return transport;
    }

    /** Whether endpoints may be connected from clients' addresses on this node, and where not. */
    public ClientSourceConnects clientSources() {
        return clientSources;
    }

    /**
     * Binds the TCP listeners {@code next} adds, not accepting yet; nothing changes when one
     * cannot be bound (see {@link Listeners#prepare}).
     */
    public Listeners.Prepared prepare(ServiceSnapshot next) throws BindFailure {
        return listeners.prepare(next);
    }

    /** Once the snapshot {@code prepared} was made for is in force: starts its new listeners, closes the removed ones. */
    public void switchTo(Listeners.Prepared prepared) {
        listeners.switchTo(prepared);
    }

    /** Closes listeners prepared for a snapshot that will not be applied. */
    public void abandon(Listeners.Prepared prepared) {
        listeners.abandon(prepared);
    }

    /** Closes every service listener (not the transparent one: see {@link #refuseTransparent}). */
    public void closeListeners() {
        listeners.closeAll();
    }

    /** The addresses listened on now. */
    public Set<InetSocketAddress> listenerAddresses() {
        return listeners.addresses();
    }

    /** Listener sockets bound now (one per address and event loop with SO_REUSEPORT). */
    public int listenerSockets() {
        return listeners.socketCount();
    }

    private volatile boolean refusingTransparent;

    /** The snapshot new connections are routed by. */
    public ServiceSnapshot snapshot() {
        return routing.snapshot();
    }

    /** The route for a connection accepted with local address {@code destination} on a listener routed so; null when none. */
    @Nullable Route route(ListenerRouting by, InetSocketAddress destination) {
        return by.route(routing, destination);
    }

    /** The ports sharing a listener routed so by TLS server name; null when it is not. */
    @Nullable ServerNameRoutes serverNames(ListenerRouting by) {
        return by.serverNames(routing);
    }

    public ConnectionLog connectionLog() {
        return connectionLog;
    }

    /** Connections that arrived on a listener the current snapshot has no route for. */
    public long unroutedConnections() {
        return unrouted.sum();
    }

    /** Connections open against the process's descriptor limit. */
    public DescriptorBudget descriptors() {
        return descriptors;
    }

    /** A client connection was accepted: counted against the descriptors, and known until it closes. On its event loop. */
    void clientOpened(Channel client) {
        descriptors.opened();
        open.opened(client);
    }

    /** A client connection {@link #clientOpened opened} has closed. On its event loop. */
    void clientClosed(Channel client) {
        descriptors.closed();
        open.closed(client);
    }

    /**
     * Closes the client connections still open (their relays close the endpoints' sides) and waits
     * up to {@code timeoutMillis} for them: a shutdown's last step before the event loops stop.
     */
    public void closeConnections(long timeoutMillis) {
        open.closeAll(timeoutMillis);
    }

    /** Failed accepts of every TCP listener, by reason. */
    public AcceptErrors acceptErrors() {
        return acceptErrors;
    }

    void countUnrouted() {
        unrouted.increment();
    }

    /**
     * From now on connections the transparent listener accepts are reset: at shutdown its TPROXY
     * rules must stay while connections drain (their packets need them), and a new connection is
     * better refused than left to time out on a closed listener.
     */
    public void refuseTransparent() {
        refusingTransparent = true;
    }

    boolean refusingTransparent() {
        return refusingTransparent;
    }

    /**
     * Binds the transparent listener of TPROXY portals: sockets with IP_TRANSPARENT whose accepted
     * connections are routed by their local address, the ClusterIP:port the client asked for
     * ({@link dev.l4lb.core.model.ServicePort#intercepted()}), so one listener and one hash lookup
     * serve every service. Like every listener, one socket per event loop with SO_REUSEPORT (the
     * kernel's TPROXY lookup picks among them as accept does). It accepts at once; connections
     * to an address the snapshot does not route are reset and counted as unrouted.
     *
     * @throws IllegalStateException when this transport has no IP_TRANSPARENT (NIO)
     */
    public List<Channel> bindTransparent(EventLoopGroup loops, InetSocketAddress address) throws BindFailure {
        ChannelOption<Boolean> transparent = transport.transparentOption();
        if (transparent == null) {
            throw new IllegalStateException("transport " + transport.displayName()
                    + " cannot open a transparent listener (IP_TRANSPARENT needs epoll or io_uring)");
        }
        List<Channel> bound = new ArrayList<>();
        try {
            for (EventExecutor loop : loops) {
                bound.add(serverBootstrap((EventLoop) loop, ListenerRouting.ByDestination.INSTANCE).option(transparent, true)
                        .option(transport.reusePortOption(), true).option(ChannelOption.AUTO_READ, true)
                        .bind(address).syncUninterruptibly().channel());
                // Every socket on the port the first one got (the same, unless port 0 was asked for).
                address = (InetSocketAddress) bound.get(0).localAddress();
            }
            transparentListeners.addAll(bound);
            return bound;
        } catch (Exception e) { // syncUninterruptibly() rethrows the bind's IOException unchecked
            bound.forEach(ch -> ch.close().syncUninterruptibly());
            throw new BindFailure(address, "the TPROXY portals' transparent listener", e);
        }
    }

    /**
     * A socket for a connection to an endpoint, set up as every relayed socket is, with
     * {@code handler} in its pipeline; not registered or connected yet. Built by hand rather than
     * with a {@code Bootstrap}: one per connection would cost an option map, its entries and an
     * extra event-loop task for the connect.
     *
     * @throws io.netty.channel.ChannelException when no socket can be created (out of file descriptors),
     *         or it cannot be made transparent ({@code fromClient})
     */
    Channel newBackendChannel(InetSocketAddress address, int connectTimeoutMillis, ChannelHandler handler, boolean fromClient) {
        Channel channel = transport.newSocketChannel(address);
        try {
            configure(channel, connectTimeoutMillis, handler, fromClient);
        } catch (RuntimeException e) { // IP_TRANSPARENT refused (EPERM): the socket goes, the caller hears why
            channel.unsafe().closeForcibly();
            if (fromClient) {
                clientSources.transparentRefused(e); // every later connect would be refused the same way
            }
            throw e instanceof ChannelException ? (ChannelException) e : new ChannelException(e);
        }
        return channel;
    }

    private void configure(Channel channel, int connectTimeoutMillis, ChannelHandler handler, boolean fromClient) {
        ChannelConfig config = channel.config();
        if (fromClient) {
            // IP_TRANSPARENT lets it bind the client's address, which is not this node's. Without
            // IP_BIND_ADDRESS_NO_PORT a bind to port 0 would reserve a port of that address for
            // every destination; with it the kernel picks one per destination at the connect.
            // The transport's checked for both: the connector only asks where the node has them.
            config.setOption(transport.transparentOption(), true);
            transport.bindAddressNoPort(config);
        }
        config.setAutoRead(false);
        config.setOption(ChannelOption.ALLOW_HALF_CLOSURE, true);
        config.setRecvByteBufAllocator(READS);
        config.setWriteBufferWaterMark(WATER_MARK);
        config.setConnectTimeoutMillis(connectTimeoutMillis);
        transport.forEachStreamOption(config::setOption);
        channel.pipeline().addLast(handler);
    }

    private ServerBootstrap serverBootstrap(EventLoopGroup loops, ListenerRouting routing) {
        ChannelInitializer<Channel> accept = new ChannelInitializer<>() {
            @Override
            protected void initChannel(Channel ch) {
                ch.pipeline().addLast("connect", new TcpAcceptHandler(routing, TcpDataPlane.this));
            }
        };
        ServerBootstrap bootstrap = new ServerBootstrap();
        transport.forEachStreamOption(bootstrap::childOption);
        return bootstrap
                .group(loops, loops)
                .channel(transport.serverSocketChannel())
                .option(ChannelOption.SO_BACKLOG, 4096)
                .handler(new ChannelInitializer<>() {
                    @Override
                    protected void initChannel(Channel listener) {
                        listener.pipeline().addLast(acceptErrors, new ResetBeforeAccept(TcpDataPlane.this, routing));
                    }
                })
                // Not accepting until the switch: the snapshot that routes this listener is not in force yet.
                .option(ChannelOption.AUTO_READ, false)
                .childOption(ChannelOption.AUTO_READ, false)
                .childOption(ChannelOption.ALLOW_HALF_CLOSURE, true)
                .childOption(ChannelOption.RCVBUF_ALLOCATOR, READS)
                .childOption(ChannelOption.WRITE_BUFFER_WATER_MARK, WATER_MARK)
                .childHandler(accept); // TCP_NODELAY is Netty's default for socket channels
    }
}

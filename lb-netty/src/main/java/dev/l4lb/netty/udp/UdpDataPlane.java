package dev.l4lb.netty.udp;

import java.net.InetSocketAddress;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.FixedRecvByteBufAllocator;
import io.netty.channel.WriteBufferWaterMark;

import dev.l4lb.core.model.Protocol;
import dev.l4lb.core.table.Route;
import dev.l4lb.core.table.RoutingTable;
import dev.l4lb.core.table.ServiceSnapshot;
import dev.l4lb.netty.transport.BindFailure;
import dev.l4lb.netty.transport.Listeners;
import dev.l4lb.netty.transport.Transport;
import dev.l4lb.netty.log.ConnectionLog;

/**
 * The UDP side of the data plane: a socket per UDP listener address (one per event loop where
 * the transport has SO_REUSEPORT, so the kernel spreads clients over the loops by their address
 * and a client's datagrams always reach the same loop), each holding the sessions of the
 * clients it hears from. A session is one client address and port with its own connected
 * socket to the endpoint chosen for it, on the same event loop.
 */
public final class UdpDataPlane {
    /**
     * Every read takes a buffer as large as the largest datagram (65,507 bytes of IPv4 payload),
     * so no datagram is cut; Netty's default of 2,048 bytes would truncate larger ones silently.
     * Up to 16 datagrams are read per wake-up (an allocator given as an option reads one, else),
     * and the sessions they went to are flushed once after them.
     */
    public static final FixedRecvByteBufAllocator DATAGRAMS = (FixedRecvByteBufAllocator) new FixedRecvByteBufAllocator(64 << 10)
            .maxMessagesPerRead(16);
    /** A session's socket queues at most this much for its endpoint before datagrams are dropped. */
    static final WriteBufferWaterMark WATER_MARK = new WriteBufferWaterMark(256 << 10, 1 << 20);

    private final Transport transport;
    private final ConnectionLog connectionLog;
    private final RoutingTable routing;
    private final Listeners listeners;

    public UdpDataPlane(Transport transport, EventLoopGroup group, RoutingTable routing, ConnectionLog connectionLog) {
        this.transport = transport;
        this.routing = routing;
        this.connectionLog = connectionLog;
        this.listeners = new Listeners(Protocol.UDP, transport, group, this::bootstrap);
    }

    public Transport transport() {
        return transport;
    }

    /** Where ended sessions are logged (when the log is on). */
    ConnectionLog connectionLog() {
        return connectionLog;
    }

    /**
     * Binds the UDP listeners {@code next} adds, not reading yet; nothing changes when one cannot
     * be bound (see {@link Listeners#prepare}).
     */
    public Listeners.Prepared prepare(ServiceSnapshot next) throws BindFailure {
        return listeners.prepare(next);
    }

    /**
     * Once the snapshot {@code prepared} was made for is in force: starts its new listeners, closes
     * the removed ones (their sessions with them) and ends the sessions it no longer allows.
     */
    public void switchTo(Listeners.Prepared prepared) {
        listeners.switchTo(prepared);
        pruneSessions();
    }

    /** Closes listeners prepared for a snapshot that will not be applied. */
    public void abandon(Listeners.Prepared prepared) {
        listeners.abandon(prepared);
    }

    /** Closes every listener; UDP sessions end with their listener, as nothing could answer their clients. */
    public void closeListeners() {
        listeners.closeAll();
    }

    /** Listener sockets bound now. */
    public int listenerSockets() {
        return listeners.socketCount();
    }

    /**
     * Ends, on each listener's own event loop, the sessions the snapshot now in force no longer
     * allows: to endpoints it removed, or from clients its source ranges exclude.
     */
    private void pruneSessions() {
        for (Channel channel : listeners.channels()) {
            UdpListenerHandler handler = channel.pipeline().get(UdpListenerHandler.class);
            if (handler != null) {
                channel.eventLoop().execute(handler::prune);
            }
        }
    }

    Route route(InetSocketAddress listener) {
        return routing.route(Protocol.UDP, listener);
    }

    private Bootstrap bootstrap(EventLoopGroup loops, InetSocketAddress address) {
        return new Bootstrap()
                .group(loops)
                .channel(transport.datagramChannel())
                // Not reading until the switch: the snapshot that routes this listener is not in force yet.
                .option(ChannelOption.AUTO_READ, false)
                .option(ChannelOption.RCVBUF_ALLOCATOR, DATAGRAMS)
                .option(ChannelOption.WRITE_BUFFER_WATER_MARK, WATER_MARK)
                .handler(new UdpListenerHandler(address, this));
    }
}

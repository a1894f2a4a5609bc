package dev.l4lb.netty.tcp;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelOutboundBuffer;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.channel.socket.DuplexChannel;
import io.netty.channel.socket.SocketChannelConfig;
import io.netty.util.ReferenceCountUtil;
import org.jspecify.annotations.Nullable;

import dev.l4lb.core.sched.Backend;
import dev.l4lb.core.sched.EndpointCounters;
import dev.l4lb.core.table.Admission;
import dev.l4lb.core.table.PortCounters;

/**
 * One direction of a relayed TCP connection: what this channel reads is written to its peer.
 * The same handler sits on the client side and on the backend side.
 *
 * <p>Reads keep going while the peer is writable and pause (auto-read off) as soon as the peer's
 * write buffer passes its high water mark; they resume when the peer drains. Writes are flushed
 * once per read batch. A FIN is passed on as a FIN once everything before it is written
 * (half-close); an error such as a reset is passed on as a reset. When its channel closes, the
 * count it stands for ends: the client side's place in the port's limit, the backend side's in
 * its endpoint's (no close-future listener per connection).
 *
 * <p>Bytes are counted into the endpoint's and the port's counters once per read batch, not
 * per read, so a busy stream costs two counter updates per batch.
 */
final class TcpRelayHandler extends ChannelInboundHandlerAdapter {
    private final Channel peer;
    private final Backend backend;
    private final EndpointCounters endpoint;
    private final PortCounters port;
    /** The data plane, on the client's side (what it reads goes in to the endpoint), which counts its connection; null on the backend's. */
    private final @Nullable TcpDataPlane clientOf;
    /** On the client's side, its admission: the port's slot and the client's, given back at the close. */
    private final @Nullable Admission admission;
    /** Set when the port has an idleTimeout; shared with the other side's handler. */
    private @Nullable IdleTimer idle;
    /** Read in this batch, not yet added to the counters. */
    private long pending;
    /** Relayed by this side over the connection's life, for the connection log. */
    private long total;

    /**
     * @param clientOf  for the client's side, the data plane its connection counts in; null for the backend's side
     * @param admission for the client's side, what it holds of the port's limits; null for the backend's side
     */
    TcpRelayHandler(Channel peer, Backend backend, PortCounters port, @Nullable TcpDataPlane clientOf,
                    @Nullable Admission admission) {
        this.backend = backend;
        this.peer = peer;
        this.endpoint = backend.counters();
        this.port = port;
        this.clientOf = clientOf;
        this.admission = admission;
    }

    /** Bytes this side has relayed to its peer so far. */
    long relayed() {
        return total + pending;
    }

    /** Reports this side's traffic to the connection's idle timer. */
    void watch(IdleTimer timer) {
        this.idle = timer;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!peer.isActive()) {
            ReferenceCountUtil.release(msg); // the peer is gone; its close will close us too
            return;
        }
        if (msg instanceof ByteBuf bytes) {
            pending += bytes.readableBytes();
        }
        peer.write(msg, peer.voidPromise());
        if (idle != null) {
            idle.touch();
        }
        if (!peer.isWritable()) {
            setReading(ctx.channel(), false);
            // Flush what filled it now rather than at the read batch's end: Netty 4.2.18's io_uring
            // does not always end a batch whose multishot read this pause cancels with
            // channelReadComplete, and unflushed bytes would keep the peer unwritable and our
            // reads paused for good (BackpressureTest, about 1 run in 40 before).
            peer.flush();
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        count();
        peer.flush();
        IoUringWriteKick.watch(peer);
    }

    private void count() {
        if (pending != 0) {
            if (clientOf != null) { // the client's side
                endpoint.addBytes(pending, 0);
                port.addBytes(pending, 0);
            } else {
                endpoint.addBytes(0, pending);
                port.addBytes(0, pending);
            }
            total += pending;
            pending = 0;
        }
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        // Our buffer drained below the low water mark (or filled up): let the peer read accordingly.
        setReading(peer, ctx.channel().isWritable());
        ctx.fireChannelWritabilityChanged();
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof ChannelInputShutdownEvent) {
            // Our peer may have filled our socket before our input ended, and be waiting to write
            // the rest with a poll our FIN has just spent: 2 runs in 100 of
            // TcpRelayTest.backendHalfCloseStillGetsTheWholeRequest stalled so on io_uring.
            IoUringWriteKick.watch(ctx.channel());
            passFin(ctx.channel());
        } else {
            ctx.fireUserEventTriggered(evt);
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        count();
        // The counts this side stands for end with it: the client's place in the port's limit,
        // the backend's in its endpoint's.
        if (clientOf != null) { // the client's side
            if (admission != null) {
                admission.release();
            }
            clientOf.clientClosed(ctx.channel());
        } else {
            backend.release();
        }
        if (peer.isActive()) {
            closePeerWhenWritten(); // deliver what is already queued for the peer, then close it politely
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        // A reset (or any other I/O error) on one side becomes a reset on the other, as a
        // kernel forwarder would show it, not a polite FIN that hides the failure.
        reset(peer);
        ctx.close();
    }

    /**
     * Our side sent FIN: shut the peer's output once all that we relayed before it is written.
     * After that the peer's own FIN is the last event of the connection, so the peer stops
     * keeping half-closure: its end of input closes it (Netty then skips its shutdown(SHUT_RD),
     * which fails with ENOTCONN, and the exception Netty builds for that, on a socket whose FIN
     * we have already sent), and its close closes us once our last bytes are written.
     */
    private void passFin(Channel self) {
        if (!peer.isActive()) {
            self.close();
            return;
        }
        if (nothingPending(peer)) {
            shutPeerOutput(self);
        } else {
            peer.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(written -> {
                if (written.isSuccess()) {
                    shutPeerOutput(self);
                } else {
                    closeBoth(self);
                }
            });
            IoUringWriteKick.watch(peer);
        }
    }

    private void shutPeerOutput(Channel self) {
        if (!peer.isActive() || !OutputShutdown.shut(peer)) {
            closeBoth(self);
            return;
        }
        if (OutputShutdown.isShut(self)) {
            // Both directions have delivered everything and sent their FIN: an output is shut
            // only after its last write completed, so nothing is dropped.
            closeBoth(self);
        } else if (peer instanceof DuplexChannel duplexPeer && !duplexPeer.isInputShutdown()
                && peer.config() instanceof SocketChannelConfig config) {
            config.setAllowHalfClosure(false);
        }
        // (Otherwise the peer's FIN is on its way to us, and passing it on closes both.)
    }

    /** Closes the peer as soon as everything written to it is on the wire. */
    private void closePeerWhenWritten() {
        if (nothingPending(peer)) {
            peer.close();
        } else {
            peer.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
            IoUringWriteKick.watch(peer);
        }
    }

    /** No write queued, flushed or not (writes in flight count until they complete). */
    private static boolean nothingPending(Channel channel) {
        ChannelOutboundBuffer queued = channel.unsafe().outboundBuffer();
        return queued == null || queued.totalPendingWriteBytes() == 0;
    }

    private void closeBoth(Channel self) {
        self.close();
        peer.close();
    }

    /**
     * Turns reading on or off, unless the channel's input is already shut: there is nothing left
     * to read then, and epoll has dropped the socket from its interest set (re-arming it fails).
     */
    static void setReading(Channel channel, boolean on) {
        if (channel instanceof DuplexChannel duplex && duplex.isInputShutdown()) {
            return;
        }
        channel.config().setAutoRead(on);
    }

    /** Closes with SO_LINGER 0, so the other end sees RST. */
    static void reset(Channel channel) {
        if (channel.isActive()) {
            try {
                channel.config().setOption(ChannelOption.SO_LINGER, 0);
            } catch (RuntimeException e) {
                // The socket may be half torn down already; closing still ends it.
            }
        }
        channel.close();
    }
}

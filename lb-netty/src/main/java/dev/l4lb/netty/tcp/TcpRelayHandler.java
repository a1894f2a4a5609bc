package dev.l4lb.netty.tcp;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.channel.socket.DuplexChannel;
import io.netty.util.ReferenceCountUtil;

import dev.l4lb.core.sched.EndpointCounters;
import dev.l4lb.core.table.PortCounters;

/**
 * One direction of a relayed TCP connection: what this channel reads is written to its peer.
 * The same handler sits on the client side and on the backend side.
 *
 * <p>Reads keep going while the peer is writable and pause (auto-read off) as soon as the peer's
 * write buffer passes its high water mark; they resume when the peer drains. Writes are flushed
 * once per read batch. A FIN is passed on as a FIN once everything before it is written
 * (half-close); an error such as a reset is passed on as a reset.
 *
 * <p>Bytes are counted into the endpoint's and the port's counters once per read batch, not
 * per read, so a busy stream costs two counter updates per batch.
 */
final class TcpRelayHandler extends ChannelInboundHandlerAdapter {
    private final Channel peer;
    private final EndpointCounters endpoint;
    private final PortCounters port;
    /** True on the client side: what it reads goes in to the endpoint. */
    private final boolean fromClient;
    /** Set when the port has an idleTimeout; shared with the other side's handler. */
    private IdleTimer idle;
    /** Read in this batch, not yet added to the counters. */
    private long pending;
    /** Relayed by this side over the connection's life, for the connection log. */
    private long total;

    TcpRelayHandler(Channel peer, EndpointCounters endpoint, PortCounters port, boolean fromClient) {
        this.peer = peer;
        this.endpoint = endpoint;
        this.port = port;
        this.fromClient = fromClient;
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
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        count();
        peer.flush();
    }

    private void count() {
        if (pending != 0) {
            if (fromClient) {
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
            passFin(ctx.channel());
        } else {
            ctx.fireUserEventTriggered(evt);
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        count();
        if (peer.isActive()) {
            // Deliver what is already queued for the peer, then close it politely.
            peer.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        // A reset (or any other I/O error) on one side becomes a reset on the other, as a
        // kernel forwarder would show it, not a polite FIN that hides the failure.
        reset(peer);
        ctx.close();
    }

    /** Our side sent FIN: shut the peer's output once all that we relayed before it is written. */
    private void passFin(Channel self) {
        if (!peer.isActive()) {
            self.close();
            return;
        }
        peer.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(written -> {
            if (!written.isSuccess() || !(peer instanceof DuplexChannel duplexPeer)) {
                closeBoth(self);
                return;
            }
            duplexPeer.shutdownOutput().addListener(shut -> {
                // Done only when both directions have delivered everything and sent their FIN:
                // an output is shut only after its last write completed, so nothing is dropped.
                if (!shut.isSuccess() || bothOutputsShut(self)) {
                    closeBoth(self);
                }
            });
        });
    }

    private boolean bothOutputsShut(Channel self) {
        return self instanceof DuplexChannel a && a.isOutputShutdown()
                && peer instanceof DuplexChannel b && b.isOutputShutdown();
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

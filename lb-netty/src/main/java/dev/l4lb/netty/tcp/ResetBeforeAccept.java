package dev.l4lb.netty.tcp;

import java.net.InetSocketAddress;

import io.netty.channel.Channel;
import io.netty.channel.ChannelException;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.epoll.EpollTcpInfo;
import io.netty.channel.uring.IoUringSocketChannel;
import io.netty.channel.uring.IoUringTcpInfo;
import io.netty.util.concurrent.FastThreadLocal;

import dev.l4lb.core.table.Outcome;
import dev.l4lb.core.table.Route;

/**
 * Closes, unserved, the connections a listener accepts from a backed-up queue whose clients
 * already reset them: the kernel still hands such a connection to accept(2), in state CLOSE. In
 * a storm of connections that clients drop at once (a scanner, a client pool crashing and
 * retrying) the listen queue fills with them, and each one would connect an endpoint before its
 * first read failed, doubling what draining the queue costs while well-behaved clients' SYNs are
 * dropped. ConnectStormTest: about half its storm is closed so, and the first connection after
 * the storm is served in milliseconds where it waited up to a second.
 *
 * <p>Asking costs a getsockopt(TCP_INFO), 1.6 µs on this machine's VM (1.7% of what a proxied
 * connection costs l4lb), so only connections accepted from a backed-up queue are asked: beyond
 * the first {@link #UNASKED} of one read batch of the listener (epoll reads a batch until the
 * queue is empty, io_uring until the kernel says it is). NIO has no TCP_INFO and never asks.
 * One per listener socket, on its event loop, before the connection is handed to its own loop.
 */
final class ResetBeforeAccept extends ChannelInboundHandlerAdapter {
    /** Connections of one read batch taken without asking: a queue that holds more is backed up. */
    static final int UNASKED = 4;
    /** Linux's TCP_CLOSE (include/net/tcp_states.h). */
    private static final int TCP_CLOSE = 7;
    private static final FastThreadLocal<EpollTcpInfo> EPOLL = new FastThreadLocal<>() {
        @Override
        protected EpollTcpInfo initialValue() {
            return new EpollTcpInfo();
        }
    };
    private static final FastThreadLocal<IoUringTcpInfo> IO_URING = new FastThreadLocal<>() {
        @Override
        protected IoUringTcpInfo initialValue() {
            return new IoUringTcpInfo();
        }
    };

    private final TcpDataPlane plane;
    private final ListenerRouting routing;
    private int batch;

    ResetBeforeAccept(TcpDataPlane plane, ListenerRouting routing) {
        this.plane = plane;
        this.routing = routing;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (++batch > UNASKED && msg instanceof Channel accepted && test(accepted)) {
            Route route = plane.route(routing, (InetSocketAddress) accepted.localAddress());
            if (route != null) {
                route.counters().record(Outcome.CLIENT_RESET);
                accepted.unsafe().closeForcibly(); // not registered yet: nothing else holds it
                return;
            }
        }
        ctx.fireChannelRead(msg);
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        batch = 0;
        ctx.fireChannelReadComplete();
    }

    /** True when {@code accepted}'s client has already reset it. */
    static boolean test(Channel accepted) {
        try {
            if (accepted instanceof IoUringSocketChannel socket) {
                return socket.tcpInfo(IO_URING.get()).state() == TCP_CLOSE;
            }
            if (accepted instanceof EpollSocketChannel socket) {
                return socket.tcpInfo(EPOLL.get()).state() == TCP_CLOSE;
            }
        } catch (ChannelException e) {
            return false; // no answer: serve it, and let its first read tell
        }
        return false;
    }
}

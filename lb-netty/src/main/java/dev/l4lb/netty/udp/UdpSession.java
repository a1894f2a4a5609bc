package dev.l4lb.netty.udp;

import java.net.InetSocketAddress;
import java.net.PortUnreachableException;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.concurrent.TimeUnit;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.socket.DatagramPacket;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;

import dev.l4lb.core.sched.Backend;
import dev.l4lb.core.sched.ConnectError;
import dev.l4lb.core.table.DatagramDrop;
import dev.l4lb.core.table.Outcome;
import dev.l4lb.core.table.PortCounters;
import dev.l4lb.core.table.Route;
import dev.l4lb.netty.Transport;

/**
 * One client's UDP session: its own socket, connected to the endpoint picked for it, so that
 * the endpoint's replies are told apart by the socket they arrive on and go back to this client
 * from the listener's address. Everything runs on the listener's event loop. The session ends
 * when it has been idle for the port's idleTimeout, when the endpoint answers ICMP port
 * unreachable (the client's next datagram then picks again), or when its listener closes.
 */
final class UdpSession implements Runnable {
    /** Datagrams held while the session's socket opens (it normally opens at once). */
    private static final int PENDING_MAX = 64;

    private final UdpListenerHandler owner;
    private final Route route;
    private final Backend backend;
    private final InetSocketAddress client;
    private final Channel listener;
    private final long timeoutNanos;
    private Channel endpoint;
    private ArrayDeque<ByteBuf> pending;
    private boolean connected;
    private boolean closed;
    private boolean written;
    private long lastActivity;
    private ScheduledFuture<?> idleCheck;

    UdpSession(UdpListenerHandler owner, Route route, Backend backend, InetSocketAddress client, Channel listener) {
        this.owner = owner;
        this.route = route;
        this.backend = backend;
        this.client = client;
        this.listener = listener;
        this.timeoutNanos = route.policy().idleTimeout().toNanos();
    }

    InetSocketAddress client() {
        return client;
    }

    /** Opens the socket to the endpoint (on this event loop) and starts the idle clock. */
    void open(Transport transport) {
        long started = System.nanoTime();
        lastActivity = started;
        ChannelFuture connect = new Bootstrap()
                .group(listener.eventLoop())
                .channel(transport.datagramChannel())
                .option(ChannelOption.RCVBUF_ALLOCATOR, UdpDataPlane.DATAGRAMS)
                .option(ChannelOption.WRITE_BUFFER_WATER_MARK, UdpDataPlane.WATER_MARK)
                .handler(new FromEndpoint())
                .connect(backend.address());
        endpoint = connect.channel();
        connect.addListener(f -> {
            backend.connectDone();
            if (!f.isSuccess()) {
                failed(f.cause());
                return;
            }
            backend.recordEstablished(System.nanoTime() - started);
            connected = true;
            if (pending != null) {
                for (ByteBuf datagram; (datagram = pending.poll()) != null; ) {
                    endpoint.write(datagram, endpoint.voidPromise());
                }
                endpoint.flush();
            }
        });
        idleCheck = listener.eventLoop().schedule(this, timeoutNanos, TimeUnit.NANOSECONDS);
    }

    /**
     * Sends a client's datagram on to the endpoint (this takes it over); true when it was
     * written and waits for {@link #flush}.
     */
    boolean send(ByteBuf datagram) {
        int bytes = datagram.readableBytes();
        PortCounters counters = route.counters();
        if (closed) {
            datagram.release();
            counters.drop(DatagramDrop.UNREACHABLE);
            return false;
        }
        lastActivity = System.nanoTime();
        if (!connected) {
            if (pending == null) {
                pending = new ArrayDeque<>(4);
            }
            if (pending.size() >= PENDING_MAX) {
                datagram.release();
                counters.drop(DatagramDrop.BACKLOG);
            } else {
                pending.add(datagram);
                counters.addDatagrams(1, 0);
                count(bytes, 0);
            }
            return false;
        }
        if (!endpoint.isWritable()) {
            datagram.release();
            counters.drop(DatagramDrop.BACKLOG);
            return false;
        }
        counters.addDatagrams(1, 0);
        count(bytes, 0);
        endpoint.write(datagram, endpoint.voidPromise());
        return true;
    }

    /** Marks the session as written in this read batch; true when it already was. */
    boolean markWritten() {
        boolean before = written;
        written = true;
        return before;
    }

    void flush() {
        written = false;
        endpoint.flush();
    }

    /** The idle check: ends the session, or looks again when it would next be idle long enough. */
    @Override
    public void run() {
        if (closed) {
            return;
        }
        long idle = System.nanoTime() - lastActivity;
        if (idle >= timeoutNanos) {
            close();
        } else {
            idleCheck = listener.eventLoop().schedule(this, timeoutNanos - idle, TimeUnit.NANOSECONDS);
        }
    }

    /** Ends the session and frees its socket, its endpoint's count and its table entry. */
    void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (idleCheck != null) {
            idleCheck.cancel(false);
        }
        if (pending != null) {
            pending.forEach(ReferenceCountUtil::release);
            pending = null;
        }
        owner.closed(this);
        endpoint.close();
        backend.release();
        route.counters().release();
    }

    private void count(long in, long out) {
        route.counters().addBytes(in, out);
        backend.counters().addBytes(in, out);
    }

    /**
     * The endpoint refused (ICMP port unreachable) or the socket failed: the session ends, and so
     * does the client's affinity to this endpoint, so the client's next datagram is scheduled again.
     */
    private void failed(Throwable cause) {
        if (closed) {
            return;
        }
        if (cause instanceof PortUnreachableException) {
            route.counters().record(Outcome.UNREACHABLE);
        }
        route.scheduler().connectFailed(backend, client.getAddress());
        backend.recordConnectError(new ConnectError(Instant.now(), String.valueOf(cause.getMessage())));
        close();
    }

    /** The endpoint's side: replies go back to the client from the listener's socket. */
    private final class FromEndpoint extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ByteBuf datagram = msg instanceof DatagramPacket packet ? packet.content() : (ByteBuf) msg;
            PortCounters counters = route.counters();
            if (closed || !listener.isWritable()) {
                datagram.release();
                counters.drop(DatagramDrop.BACKLOG);
                return;
            }
            lastActivity = System.nanoTime();
            counters.addDatagrams(0, 1);
            count(0, datagram.readableBytes());
            // The listener is not connected: each reply names its client (one small envelope per datagram).
            listener.write(new DatagramPacket(datagram, client), listener.voidPromise());
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            listener.flush();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            failed(cause);
        }
    }
}

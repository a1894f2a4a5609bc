package dev.l4lb.netty.udp;

import java.net.InetSocketAddress;
import java.net.PortUnreachableException;
import java.util.ArrayDeque;
import java.util.concurrent.TimeUnit;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.socket.DatagramPacket;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.ScheduledFuture;
import org.jspecify.annotations.Nullable;

import dev.l4lb.core.sched.Backend;
import dev.l4lb.core.table.Admission;
import dev.l4lb.core.table.DatagramDrop;
import dev.l4lb.core.table.Outcome;
import dev.l4lb.core.table.PortCounters;
import dev.l4lb.core.table.Route;
import dev.l4lb.netty.log.ConnectionRecord;

/**
 * One client's UDP session: its own socket, connected to the endpoint picked for it, so that
 * the endpoint's replies are told apart by the socket they arrive on and go back to this client
 * from the listener's address. Everything runs on the listener's event loop.
 *
 * <p>Until the endpoint first answers, the session keeps its first datagram: when the endpoint
 * answers ICMP port unreachable instead, the session moves to the next endpoint the scheduler
 * picks and sends it again, as a TCP connect is retried elsewhere, so a dead endpoint costs the
 * client nothing. After a first answer an ICMP unreachable ends the session, and the client's
 * next datagram is scheduled afresh. Otherwise the session ends when idle for the port's
 * idleTimeout, when a reload takes its endpoint away, or when its listener closes.
 */
final class UdpSession implements Runnable {
    /**
     * Bytes held while the session's socket opens (io_uring connects asynchronously, and a client
     * may send a burst before it has): what a socket's receive buffer would hold.
     */
    private static final int PENDING_MAX_BYTES = 256 << 10;
    /** Why a session ended, in the connection log (beside the outcome names idle_timeout and unreachable). */
    static final String LISTENER_CLOSED = "listener_closed";
    static final String RELOADED_AWAY = "reloaded_away";
    private static final String FAILED = "failed";

    private final UdpListenerHandler owner;
    private final UdpDataPlane plane;
    private final Admission admission;
    private final Route route;
    private final InetSocketAddress client;
    private final InetSocketAddress service;
    private final Channel listener;
    private final EventLoop loop;
    private final long timeoutNanos;
    private Backend backend;
    private Channel endpoint;
    /** The first datagram, kept until the endpoint answers, to resend elsewhere on ICMP unreachable. */
    private @Nullable ByteBuf first;
    /** Whether an endpoint answered ICMP unreachable to this session's first datagram. */
    private boolean refused;
    private @Nullable ArrayDeque<ByteBuf> pending;
    private int pendingBytes;
    private boolean connected;
    private boolean answered;
    private boolean closed;
    private boolean written;
    private long lastActivity;
    private @Nullable ScheduledFuture<?> idleCheck;
    /** For the connection log; null while it is off. */
    private final @Nullable ConnectionRecord record;
    private long bytesIn;
    private long bytesOut;

    UdpSession(UdpListenerHandler owner, UdpDataPlane plane, Admission admission, Backend backend,
               InetSocketAddress client, InetSocketAddress service, Channel listener) {
        this.owner = owner;
        this.plane = plane;
        this.admission = admission;
        this.route = admission.route();
        this.backend = backend;
        this.client = client;
        this.service = service;
        this.listener = listener;
        this.loop = listener.eventLoop();
        this.timeoutNanos = route.policy().idleTimeout().toNanos();
        this.record = plane.connectionLog().enabled() ? new ConnectionRecord(route.displayName(), client, service) : null;
    }

    InetSocketAddress client() {
        return client;
    }

    Backend backend() {
        return backend;
    }

    /** Opens the socket to the endpoint and starts the idle clock. */
    void open() {
        lastActivity = System.nanoTime();
        idleCheck = loop.schedule(this, timeoutNanos, TimeUnit.NANOSECONDS);
        connect();
    }

    private void connect() {
        long started = System.nanoTime();
        connected = false;
        Backend target = backend;
        ChannelFuture connect = new Bootstrap()
                .group(loop)
                .channel(plane.transport().datagramChannel())
                // Endpoints are IP literals: skip the resolver, whose per-loop lookup takes a lock.
                .disableResolver()
                .option(ChannelOption.RCVBUF_ALLOCATOR, UdpDataPlane.DATAGRAMS)
                .option(ChannelOption.WRITE_BUFFER_WATER_MARK, UdpDataPlane.WATER_MARK)
                .handler(new FromEndpoint())
                .connect(target.address());
        endpoint = connect.channel();
        connect.addListener(f -> {
            // A socket that could not even be created (too many open files) reports from another thread.
            if (loop.inEventLoop()) {
                connected(f, target, started);
            } else {
                loop.execute(() -> connected(f, target, started));
            }
        });
    }

    private void connected(Future<?> f, Backend target, long started) {
        target.connectDone();
        if (target != backend) {
            return; // the session has moved on since
        }
        if (!f.isSuccess()) {
            failed(f.cause());
            return;
        }
        if (closed) {
            return;
        }
        target.recordEstablished(System.nanoTime() - started);
        connected = true;
        if (first != null && refused) {
            endpoint.write(first.retainedDuplicate(), endpoint.voidPromise()); // the retry after an ICMP unreachable
        }
        if (pending != null) {
            for (ByteBuf datagram; (datagram = pending.poll()) != null; ) {
                endpoint.write(datagram, endpoint.voidPromise());
            }
            pendingBytes = 0;
        }
        endpoint.flush();
    }

    /**
     * Sends a client's datagram on to the endpoint (this takes it over); true when it was
     * written and waits for {@link #flush}.
     */
    boolean send(ByteBuf datagram) {
        PortCounters counters = route.counters();
        if (closed) {
            datagram.release();
            counters.drop(DatagramDrop.UNREACHABLE);
            return false;
        }
        datagram = compact(datagram);
        int bytes = datagram.readableBytes();
        if (first == null && !answered) {
            first = datagram.retainedDuplicate();
        }
        if (!connected) {
            if (pending == null) {
                pending = new ArrayDeque<>(4);
            }
            if (pendingBytes + bytes > PENDING_MAX_BYTES) {
                datagram.release();
                counters.drop(DatagramDrop.BACKLOG);
                return false;
            }
            pending.add(datagram);
            pendingBytes += bytes;
        } else if (!endpoint.isWritable()) {
            datagram.release();
            counters.drop(DatagramDrop.BACKLOG);
            return false;
        } else {
            endpoint.write(datagram, endpoint.voidPromise());
        }
        lastActivity = System.nanoTime();
        counters.addDatagrams(1, 0);
        count(bytes, 0);
        return connected;
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
            close(Outcome.IDLE_TIMEOUT.label());
        } else {
            idleCheck = loop.schedule(this, timeoutNanos - idle, TimeUnit.NANOSECONDS);
        }
    }

    /**
     * Ends the session and frees its socket, its endpoint's count and its table entry; logs it
     * with {@code why} when the connection log is on (null: not logged).
     */
    void close(@Nullable String why) {
        if (closed) {
            return;
        }
        closed = true;
        if (why != null && record != null) {
            record.endpoint(backend.address());
            plane.connectionLog().add(record.closed(endpoint.id().asLongText(), bytesIn, bytesOut, why));
        }
        // The counts first: whatever happens to the socket below, they must not leak.
        backend.release();
        admission.release();
        owner.closed(this);
        if (idleCheck != null) {
            idleCheck.cancel(false);
        }
        releaseHeld();
        closeEndpoint();
    }

    private void closeEndpoint() {
        if (endpoint.isRegistered()) {
            endpoint.close();
        } else {
            endpoint.unsafe().closeForcibly(); // never registered: its socket could not be created
        }
    }

    private void releaseHeld() {
        if (first != null) {
            first.release();
            first = null;
        }
        if (pending != null) {
            pending.forEach(ReferenceCountUtil::release);
            pending = null;
        }
    }

    private void count(long in, long out) {
        route.counters().addBytes(in, out);
        backend.counters().addBytes(in, out);
        bytesIn += in;
        bytesOut += out;
    }

    /**
     * The endpoint refused (ICMP port unreachable) or the socket failed. Before any answer the
     * session tries the next endpoint with its first datagram; after one, or with no endpoint
     * left, it ends. Either way the endpoint's failure is counted and the client's ClientIP entry
     * for it dropped.
     */
    private void failed(Throwable cause) {
        if (closed) {
            return;
        }
        admission.failed(backend, cause);
        if (!(cause instanceof PortUnreachableException)) {
            close(FAILED);
            return;
        }
        route.counters().record(Outcome.UNREACHABLE);
        if (answered || first == null || !moveToNextEndpoint()) {
            close(Outcome.UNREACHABLE.label());
        }
    }

    private boolean moveToNextEndpoint() {
        refused = true;
        Backend next = admission.next(); // never the endpoints that refused this session
        if (next == null) {
            return false;
        }
        // What was queued for the refusing endpoint is lost with it, as the kernel would lose it.
        if (pending != null) {
            pending.forEach(ReferenceCountUtil::release);
            pending.clear();
            pendingBytes = 0;
        }
        Channel old = endpoint;
        Backend left = backend;
        backend = next;
        connect(); // the session's endpoint is the new one before the old one closes
        if (old.isRegistered()) {
            old.close();
        }
        left.release();
        return true;
    }

    /**
     * A datagram much smaller than the 64 KiB buffer it was read into is copied into a buffer of
     * its size, so that what a queue holds is bounded by the bytes it counts.
     */
    private static ByteBuf compact(ByteBuf datagram) {
        int readable = datagram.readableBytes();
        if (readable >= datagram.capacity() / 4) {
            return datagram;
        }
        ByteBuf copy = datagram.alloc().directBuffer(readable);
        copy.writeBytes(datagram);
        datagram.release();
        return copy;
    }

    /** The endpoint's side: replies go back to the client from the listener's socket. */
    private final class FromEndpoint extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ByteBuf datagram = msg instanceof DatagramPacket packet ? packet.content() : (ByteBuf) msg;
            PortCounters counters = route.counters();
            if (closed || ctx.channel() != endpoint) {
                datagram.release();
                counters.drop(DatagramDrop.UNREACHABLE);
                return;
            }
            if (!listener.isWritable()) {
                datagram.release();
                counters.drop(DatagramDrop.BACKLOG);
                return;
            }
            if (!answered) {
                answered = true;
                backend.reached();
                if (first != null) {
                    first.release();
                    first = null;
                }
            }
            datagram = compact(datagram);
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
        public void channelInactive(ChannelHandlerContext ctx) {
            if (ctx.channel() == endpoint) {
                close(FAILED); // closed under us (its event loop stopping): the session cannot go on
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            if (ctx.channel() == endpoint) {
                failed(cause);
            }
        }
    }
}

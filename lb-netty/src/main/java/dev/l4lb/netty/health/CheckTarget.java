package dev.l4lb.netty.health;

import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ThreadLocalRandom;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelException;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseDecoder;
import io.netty.util.ReferenceCountUtil;
import org.jspecify.annotations.Nullable;

import dev.l4lb.core.health.EndpointHealth;
import dev.l4lb.core.model.Addresses;
import dev.l4lb.core.model.HealthCheck;
import dev.l4lb.netty.transport.Transport;

/**
 * One endpoint's probe and its schedule, on the checker's event loop only. At most one probe is
 * in flight; its deadline and the next start are the target's place in the checker's queue, so a
 * probe costs no timer of its own. The target is its probe's connect listener and, for http, its
 * response handler (one probe at a time, hence sharable): beyond the probe's channel and Netty's
 * pooled buffers nothing is allocated per probe.
 */
@ChannelHandler.Sharable
final class CheckTarget extends ChannelInboundHandlerAdapter implements ChannelFutureListener, Runnable {
    /** Bounds of the http status line and headers read from a probe's answer. */
    private static final int MAX_LINE = 4096;
    private static final int MAX_HEADERS = 8192;

    private final EndpointHealth health;
    private final InetSocketAddress address;
    private final HealthCheck check;
    /** Written first once connected: the PROXY header and/or the http request; empty for a plain tcp check. */
    private final byte[] greeting;
    private final long intervalNanos;
    private final long timeoutNanos;
    /** Built once: a probe that times out allocates no message. */
    private final String timedOut;

    /** The queue's key: when {@link #due} should run next. */
    long dueNanos;
    private long nextStartNanos;
    private @Nullable Channel probe;
    /** A finished probe's socket, closed by the next task of the loop ({@link #run}). */
    private @Nullable Channel closing;
    /** The probe's greeting is on its way (tcp with a PROXY header): its write completes the probe. */
    private boolean writing;

    CheckTarget(EndpointHealth health, InetSocketAddress address, HealthCheck check, byte @Nullable [] proxyHeader,
                long nowNanos) {
        this.health = health;
        this.address = address;
        this.check = check;
        this.greeting = greeting(check, address, proxyHeader);
        this.intervalNanos = check.interval().toNanos();
        this.timeoutNanos = check.timeout().toNanos();
        this.timedOut = "timed out after " + check.timeout().toMillis() + " ms";
        // A random first phase within one interval: 10,000 endpoints added at once do not probe at once.
        this.nextStartNanos = nowNanos + ThreadLocalRandom.current().nextLong(intervalNanos);
        this.dueNanos = nextStartNanos;
    }

    EndpointHealth health() {
        return health;
    }

    HealthCheck check() {
        return check;
    }

    InetSocketAddress address() {
        return address;
    }

    /**
     * The target's time has come: a probe in flight has run out of time; otherwise the next
     * probe starts if its time has come. Sets {@link #dueNanos} to the next event.
     */
    void due(EventLoop loop, Transport transport, long nowNanos) {
        if (probe != null) {
            finish(false, timedOut);
            dueNanos = nextStartNanos;
            return;
        }
        if (nowNanos - nextStartNanos < 0) {
            dueNanos = nextStartNanos; // the probe ended early: wait for the next start
            return;
        }
        // The next start keeps to the interval, less up to 5% at random so that targets drift apart.
        nextStartNanos = nowNanos + intervalNanos - ThreadLocalRandom.current().nextLong(intervalNanos / 20 + 1);
        dueNanos = nowNanos + timeoutNanos;
        start(loop, transport);
    }

    private void start(EventLoop loop, Transport transport) {
        Channel channel;
        try {
            channel = transport.newSocketChannel(address);
        } catch (ChannelException e) {
            health.checkFailed(check.fall(), "no socket: " + e.getMessage());
            dueNanos = nextStartNanos;
            return;
        }
        // A probe closes with a reset rather than a FIN, as HAProxy's do: no TIME_WAIT left behind
        // for each of thousands of probes a second. The deadline is the queue's, not Netty's timer.
        channel.config().setOption(ChannelOption.SO_LINGER, 0);
        channel.config().setConnectTimeoutMillis(0);
        channel.config().setAutoRead(check.kind() == HealthCheck.Kind.HTTP);
        probe = channel;
        writing = false;
        ChannelFuture registered = loop.register(channel);
        if (registered.isDone()) { // as it is, on the loop's own thread
            connect(registered);
        } else {
            registered.addListener((ChannelFutureListener) this::connect);
        }
    }

    private void connect(ChannelFuture registered) {
        if (registered.channel() != probe) {
            return;
        }
        if (registered.isSuccess()) {
            registered.channel().connect(address).addListener(this);
        } else {
            finish(false, "cannot register: " + registered.cause());
        }
    }

    /** The connect, or the greeting's write, completed. */
    @Override
    public void operationComplete(ChannelFuture future) {
        if (future.channel() != probe) {
            return; // a probe that already timed out
        }
        if (!future.isSuccess()) {
            Throwable cause = future.cause();
            finish(false, cause.getMessage() != null ? cause.getMessage() : cause.toString());
            return;
        }
        if (writing || greeting.length == 0) {
            finish(true, null); // connected (and the PROXY header, if any, went out)
            return;
        }
        Channel channel = future.channel();
        if (check.kind() == HealthCheck.Kind.HTTP) {
            channel.pipeline().addLast(new HttpResponseDecoder(MAX_LINE, MAX_HEADERS, MAX_LINE), this);
            // A failed write reaches exceptionCaught (void promise): no listener to allocate.
            channel.writeAndFlush(copy(channel), channel.voidPromise());
        } else {
            writing = true;
            channel.writeAndFlush(copy(channel)).addListener(this);
        }
    }

    private ByteBuf copy(Channel channel) {
        return channel.alloc().buffer(greeting.length).writeBytes(greeting);
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        try {
            if (msg instanceof HttpResponse response && ctx.channel() == probe) {
                int status = response.status().code();
                if (response.decoderResult().isFailure()) {
                    finish(false, "not an HTTP answer: " + response.decoderResult().cause().getMessage());
                } else if (check.expectStatus().contains(status)) {
                    finish(true, null);
                } else {
                    finish(false, "HTTP status " + status + ", expected " + check.expectStatus());
                }
            }
        } finally {
            ReferenceCountUtil.release(msg);
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        if (ctx.channel() == probe) {
            finish(false, "closed before an HTTP status line");
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (ctx.channel() == probe) {
            finish(false, cause.getMessage() != null ? cause.getMessage() : cause.toString());
        }
    }

    /** Ends the probe in flight: its result goes to the endpoint's health, its socket closes. */
    private void finish(boolean passed, @Nullable String reason) {
        Channel channel = probe;
        if (channel == null) {
            return;
        }
        probe = null;
        // Closed from a task of its own rather than here: from inside the connect's listener, io_uring's
        // close still sees the connect pending and fails it with a new ClosedChannelException, whose
        // stack trace cost 3% of the checker's CPU at 5,000 probes/s. The target is the task: one probe
        // at a time, so no allocation.
        if (closing != null) {
            closing.close();
        }
        closing = channel;
        channel.eventLoop().execute(this);
        if (passed) {
            health.checkPassed(check.rise());
        } else {
            health.checkFailed(check.fall(), reason == null ? "failed" : reason);
        }
    }

    /** Closes the socket of the probe that finished last. */
    @Override
    public void run() {
        Channel channel = closing;
        closing = null;
        if (channel != null) {
            channel.close();
        }
    }

    /** The target leaves the schedule (its endpoint or port went): a probe in flight is dropped unreported. */
    void cancel() {
        Channel channel = probe;
        probe = null;
        if (channel != null) {
            channel.close();
        }
    }

    /** What a probe writes once connected: the PROXY header, then for http the request. */
    private static byte[] greeting(HealthCheck check, InetSocketAddress address, byte @Nullable [] proxyHeader) {
        byte[] header = proxyHeader == null ? new byte[0] : proxyHeader;
        if (check.kind() != HealthCheck.Kind.HTTP) {
            return header;
        }
        byte[] request = ("GET " + check.path() + " HTTP/1.1\r\nHost: " + Addresses.format(address)
                + "\r\nUser-Agent: l4lb-health-check\r\nAccept: */*\r\nConnection: close\r\n\r\n")
                .getBytes(StandardCharsets.US_ASCII);
        byte[] both = new byte[header.length + request.length];
        System.arraycopy(header, 0, both, 0, header.length);
        System.arraycopy(request, 0, both, header.length, request.length);
        return both;
    }
}

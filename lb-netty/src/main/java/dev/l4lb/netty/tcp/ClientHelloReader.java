package dev.l4lb.netty.tcp;

import java.time.Duration;
import java.util.List;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.TooLongFrameException;
import io.netty.handler.ssl.AbstractSniHandler;
import io.netty.handler.ssl.NotSslRecordException;
import io.netty.handler.ssl.SniCompletionEvent;
import io.netty.handler.ssl.SslHandshakeTimeoutException;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.ImmediateEventExecutor;
import org.jspecify.annotations.Nullable;

import dev.l4lb.core.table.HelloRejection;

/**
 * Reads a client's TLS ClientHello, without terminating TLS, to learn the server name it asks for
 * (Netty's {@link AbstractSniHandler} parses it), then leaves the pipeline: every byte it read
 * goes on to the handler after it, to be replayed to the chosen backend. Either way it ends with
 * a {@link SniCompletionEvent}: the name (null when the hello has none), or why there is no hello
 * to route by ({@link #rejection}).
 *
 * <p>The channel does not auto-read: the decoder asks for the next read while a hello is
 * incomplete and stops asking once it is whole, so nothing past it is read before a backend is
 * connected (beyond what the same read returned).
 */
final class ClientHelloReader extends AbstractSniHandler<Boolean> {
    /**
     * Longest ClientHello read (its handshake length), so what one connection holds is bounded;
     * browsers send well under 2 KiB, post-quantum key shares a few KiB more.
     */
    static final int MAX_CLIENT_HELLO_LENGTH = 16 * 1024;
    /**
     * Most bytes held while a hello is incomplete: Netty's parser waits for a whole TLS record
     * before it reads the hello's length, and a record may declare up to 64 KiB; twice the longest
     * hello leaves room for its record headers however the client splits it.
     */
    static final int MAX_BUFFERED = 2 * MAX_CLIENT_HELLO_LENGTH;
    private static final int HANDSHAKE_RECORD = 22;
    private static final int CLIENT_HELLO = 1;
    private static final Future<Boolean> ROUTABLE = ImmediateEventExecutor.INSTANCE.newSucceededFuture(Boolean.TRUE);
    /** One for every connection that is not TLS: made once, its stack trace with it, not per connection. */
    private static final Future<Boolean> NOT_A_HELLO = ImmediateEventExecutor.INSTANCE.newFailedFuture(
            new NotSslRecordException("not a TLS ClientHello"));

    private boolean overLong;

    private ClientHelloReader(Duration timeout) {
        super(MAX_CLIENT_HELLO_LENGTH, Math.max(1, timeout.toMillis()));
    }

    /** Puts a reader in front of {@code before} and starts reading the hello of an already active channel. */
    static void install(ChannelPipeline pipeline, String before, Duration timeout) {
        pipeline.addBefore(before, "client-hello", new ClientHelloReader(timeout));
        pipeline.channel().read();
    }

    /**
     * Why {@code event} carries no name to route by, or null when it does. The parser hands over
     * the bytes of anything that is not a handshake record as a hello without a name (it only
     * wants to pick a certificate); here that is a rejection, told apart in {@link #lookup}.
     */
    static @Nullable HelloRejection rejection(SniCompletionEvent event) {
        Throwable cause = event.cause();
        if (cause == null) {
            return null;
        }
        if (cause instanceof TooLongFrameException) {
            return HelloRejection.TOO_LARGE;
        }
        if (cause instanceof SslHandshakeTimeoutException) {
            return HelloRejection.TIMEOUT;
        }
        return HelloRejection.NOT_TLS;
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) throws Exception {
        if (in.readableBytes() > MAX_BUFFERED) {
            in.skipBytes(in.readableBytes());
            if (!overLong) {
                overLong = true;
                ctx.fireUserEventTriggered(new SniCompletionEvent(
                        new TooLongFrameException("more than " + MAX_BUFFERED + " bytes without a whole ClientHello")));
            }
            return;
        }
        super.decode(ctx, in, out);
    }

    @Override
    protected Future<Boolean> lookup(ChannelHandlerContext ctx, @Nullable String hostname) {
        // The bytes read so far start with what the parser looked at: a handshake record whose
        // first message is a ClientHello, or else something a name cannot be read from.
        ByteBuf read = internalBuffer();
        int at = read.readerIndex();
        boolean hello = read.readableBytes() > 5 && read.getUnsignedByte(at) == HANDSHAKE_RECORD
                && read.getUnsignedByte(at + 5) == CLIENT_HELLO;
        return hello ? ROUTABLE : NOT_A_HELLO;
    }

    @Override
    protected void onLookupComplete(ChannelHandlerContext ctx, @Nullable String hostname, Future<Boolean> future) {
        if (future.isSuccess()) {
            // Done: what was read flows on to the accept handler (on removal, after this decode),
            // and the SniCompletionEvent that follows names the port.
            ctx.pipeline().remove(this);
        }
    }
}

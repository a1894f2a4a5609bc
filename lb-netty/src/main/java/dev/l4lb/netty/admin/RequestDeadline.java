package dev.l4lb.netty.admin;

import java.util.concurrent.TimeUnit;

import io.micrometer.core.instrument.Counter;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.util.concurrent.ScheduledFuture;

/**
 * A connection to the admin server must deliver each whole request within {@link #SECONDS} of
 * connecting or of its previous answer, else it is closed: HAProxy's {@code timeout http-request}
 * (commonly 10 s). A client that trickles a byte now and then (slowloris) is closed as surely as
 * one that sends nothing, and an idle keep-alive connection gives its slot back (a scraper
 * reconnects). The idle timeout beside it closes a client that stops reading its answer.
 */
final class RequestDeadline extends ChannelDuplexHandler {
    static final int SECONDS = 10;

    private final Counter timedOut;
    private ScheduledFuture<?> deadline;

    RequestDeadline(Counter timedOut) {
        this.timedOut = timedOut;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        arm(ctx);
        ctx.fireChannelActive();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof FullHttpRequest) {
            cancel();
        }
        ctx.fireChannelRead(msg);
    }

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
        if (msg instanceof FullHttpResponse) {
            promise = promise.unvoid();
            promise.addListener(f -> {
                if (f.isSuccess() && ctx.channel().isActive()) {
                    arm(ctx); // kept alive: the next request has its own time
                }
            });
        }
        ctx.write(msg, promise);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        cancel();
        ctx.fireChannelInactive();
    }

    private void arm(ChannelHandlerContext ctx) {
        cancel();
        deadline = ctx.executor().schedule(() -> {
            timedOut.increment();
            ctx.close();
        }, SECONDS, TimeUnit.SECONDS);
    }

    private void cancel() {
        if (deadline != null) {
            deadline.cancel(false);
            deadline = null;
        }
    }
}

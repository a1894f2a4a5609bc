package dev.l4lb.netty.admin;

import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.timeout.ReadTimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * How l4lb's small HTTP servers (admin, healthCheckNodePort) end an exchange: the response with
 * its length, kept alive when the request asked for it and was well formed, else closed.
 */
public final class HttpReplies {
    private static final Logger LOG = LoggerFactory.getLogger(HttpReplies.class);

    private HttpReplies() {
    }

    /** Sends {@code response} to {@code request}; closes the connection after it unless it may be kept alive. */
    public static void send(ChannelHandlerContext ctx, FullHttpRequest request, FullHttpResponse response) {
        boolean keepAlive = request.decoderResult().isSuccess() && HttpUtil.isKeepAlive(request);
        HttpUtil.setContentLength(response, response.content().readableBytes());
        HttpUtil.setKeepAlive(response, keepAlive);
        var written = ctx.writeAndFlush(response);
        if (!keepAlive) {
            written.addListener(ChannelFutureListener.CLOSE);
        }
    }

    /**
     * A connection that failed (a reset, mostly) or idled out is closed. It is the client's doing,
     * so it is logged at DEBUG only: passed on, it would reach the end of the pipeline, where Netty
     * logs a WARN with a stack trace, one per connection a flood of clients resets.
     */
    public static void failed(ChannelHandlerContext ctx, Throwable cause) {
        if (!(cause instanceof ReadTimeoutException)) {
            LOG.debug("{}: closed after {}", ctx.channel(), cause.toString());
        }
        ctx.close();
    }
}

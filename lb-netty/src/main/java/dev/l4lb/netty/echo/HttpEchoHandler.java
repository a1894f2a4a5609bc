package dev.l4lb.netty.echo;

import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Map;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.QueryStringDecoder;

import dev.l4lb.core.model.Addresses;

/**
 * Answers each HTTP request with the page Kubernetes' echoserver image gives: what the backend
 * saw of the client and the request, as {@code key=value} lines, plus which backend it is.
 */
final class HttpEchoHandler extends SimpleChannelInboundHandler<FullHttpRequest> {
    private final String self;
    private ChannelFuture lastResponse;

    HttpEchoHandler(String self) {
        this.self = self;
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest request) {
        InetSocketAddress client = ProxyHeaderSeen.clientOf(ctx.channel());
        ProxyHeaderSeen proxied = ctx.channel().attr(ProxyHeaderSeen.KEY).get();
        QueryStringDecoder uri = new QueryStringDecoder(request.uri());
        String host = request.headers().get(HttpHeaderNames.HOST, self);
        StringBuilder page = new StringBuilder(512)
                .append("backend=").append(self).append('\n')
                .append('\n')
                .append("CLIENT VALUES:\n")
                .append("client_address=").append(Addresses.formatIp(client.getAddress())).append('\n')
                .append("client_port=").append(client.getPort()).append('\n');
        if (proxied != null) {
            page.append("proxy_protocol=").append(proxied.version()).append('\n');
            if (proxied.uniqueId() != null) {
                page.append("proxy_unique_id=").append(proxied.uniqueId()).append('\n');
            }
        }
        page
                .append("command=").append(request.method().name()).append('\n')
                .append("real path=").append(uri.path()).append('\n')
                .append("query=").append(uri.rawQuery().isEmpty() ? "nil" : uri.rawQuery()).append('\n')
                .append("request_version=").append(request.protocolVersion().majorVersion()).append('.')
                .append(request.protocolVersion().minorVersion()).append('\n')
                .append("request_uri=http://").append(host).append(request.uri()).append('\n')
                .append('\n')
                .append("HEADERS RECEIVED:\n");
        for (Map.Entry<String, String> header : request.headers()) {
            page.append(header.getKey().toLowerCase(java.util.Locale.ROOT)).append('=').append(header.getValue()).append('\n');
        }
        page.append("BODY:\n");
        if (request.content().isReadable()) {
            page.append(request.content().toString(StandardCharsets.UTF_8)).append('\n');
        } else {
            page.append("-no body in request-\n");
        }

        ByteBuf body = Unpooled.copiedBuffer(page, StandardCharsets.UTF_8);
        FullHttpResponse response = new DefaultFullHttpResponse(request.protocolVersion(), HttpResponseStatus.OK, body);
        response.headers()
                .set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.TEXT_PLAIN)
                .setInt(HttpHeaderNames.CONTENT_LENGTH, body.readableBytes());
        boolean keepAlive = HttpUtil.isKeepAlive(request);
        HttpUtil.setKeepAlive(response, keepAlive);
        lastResponse = ctx.writeAndFlush(response);
        if (!keepAlive) {
            lastResponse.addListener(ChannelFutureListener.CLOSE);
        }
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof ChannelInputShutdownEvent) {
            // The client is done sending: close once the last answer is out.
            if (lastResponse == null) {
                ctx.close();
            } else {
                lastResponse.addListener(ChannelFutureListener.CLOSE);
            }
        } else {
            ctx.fireUserEventTriggered(evt);
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        ctx.close();
    }
}

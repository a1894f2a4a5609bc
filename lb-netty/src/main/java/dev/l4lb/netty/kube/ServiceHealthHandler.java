package dev.l4lb.netty.kube;

import java.nio.charset.StandardCharsets;
import java.util.Date;
import java.util.function.BooleanSupplier;
import java.util.function.IntFunction;

import tools.jackson.core.io.JsonStringEncoder;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.DateFormatter;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;

import dev.l4lb.core.kube.ServiceHealth;
import dev.l4lb.netty.admin.HttpReplies;

/**
 * Answers one request on a healthCheckNodePort exactly as kube-proxy does
 * (pkg/proxy/healthcheck/service_health.go): any path, any method, the same body.
 */
final class ServiceHealthHandler extends SimpleChannelInboundHandler<FullHttpRequest> {
    private final int port;
    private final IntFunction<ServiceHealth> byPort;
    private final BooleanSupplier proxierHealthy;

    ServiceHealthHandler(int port, IntFunction<ServiceHealth> byPort, BooleanSupplier proxierHealthy) {
        this.port = port;
        this.byPort = byPort;
        this.proxierHealthy = proxierHealthy;
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest request) {
        ServiceHealth service = byPort.apply(port);
        if (service == null) {
            // A sync dropped this port and is closing it: no answer is better than a stale one.
            ctx.close();
            return;
        }
        FullHttpResponse response = request.decoderResult().isSuccess()
                ? answer(service, proxierHealthy.getAsBoolean())
                : new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.BAD_REQUEST, Unpooled.EMPTY_BUFFER);
        HttpReplies.send(ctx, request, response);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        HttpReplies.failed(ctx, cause);
    }

    /**
     * 200 when the node has a local endpoint and the proxier is healthy, else 503; the endpoint
     * count also goes in X-Load-Balancing-Endpoint-Weight, which weighted cloud load balancers
     * (Google's WEIGHTED_MAGLEV) read. The body is byte for byte kube-proxy's: tab-indented, no
     * final newline.
     */
    static FullHttpResponse answer(ServiceHealth service, boolean proxierHealthy) {
        int count = service.localEndpoints();
        String body = "{\n"
                + "\t\"service\": {\n"
                + "\t\t\"namespace\": " + quote(service.namespace()) + ",\n"
                + "\t\t\"name\": " + quote(service.name()) + "\n"
                + "\t},\n"
                + "\t\"localEndpoints\": " + count + ",\n"
                + "\t\"serviceProxyHealthy\": " + proxierHealthy + "\n"
                + "}";
        HttpResponseStatus status = count != 0 && proxierHealthy ? HttpResponseStatus.OK : HttpResponseStatus.SERVICE_UNAVAILABLE;
        FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status,
                Unpooled.wrappedBuffer(body.getBytes(StandardCharsets.UTF_8)));
        response.headers()
                .set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.APPLICATION_JSON)
                .set("X-Content-Type-Options", "nosniff")
                .set("X-Load-Balancing-Endpoint-Weight", Integer.toString(count))
                // Go's server dates every response; some health checkers log it.
                .set(HttpHeaderNames.DATE, DateFormatter.format(new Date()));
        return response;
    }

    private static String quote(String text) {
        // Kubernetes names are DNS labels, so this and Go's %q agree on every name a Service can have.
        return "\"" + new String(JsonStringEncoder.getInstance().quoteAsCharArray(text)) + "\"";
    }
}

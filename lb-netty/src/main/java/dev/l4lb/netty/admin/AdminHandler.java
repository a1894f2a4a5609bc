package dev.l4lb.netty.admin;

import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Set;

import tools.jackson.databind.ObjectMapper;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.ObjectNode;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.QueryStringDecoder;

import dev.l4lb.core.kube.ProxierHealth;
import dev.l4lb.core.model.Addresses;
import dev.l4lb.netty.Balancer;
import dev.l4lb.netty.ConfigReloader;
import dev.l4lb.netty.Reload;

/** Answers one admin request; which paths a listener serves depends on its {@link Context}. */
final class AdminHandler extends SimpleChannelInboundHandler<FullHttpRequest> {
    private static final ObjectMapper JSON = JsonMapper.builder().build();
    private static final String PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8";
    /** What kube-proxy prints for a time never set (Go's zero time.Time). */
    private static final Instant GO_ZERO_TIME = Instant.parse("0001-01-01T00:00:00Z");

    /**
     * What a listener serves with.
     *
     * @param proxierHealth what /healthz and /livez answer from; null to answer from the snapshot in force alone
     * @param full          true on the metrics address (everything); false on the health address (health only)
     * @param allowedHosts  DNS names the metrics address answers to besides IP literals and localhost
     */
    record Context(Balancer balancer, ConfigReloader reloader, RateEstimator rates, byte[] statsPage,
                   ProxierHealth proxierHealth, boolean full, Set<String> allowedHosts) {
    }

    private final Context context;

    AdminHandler(Context context) {
        this.context = context;
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest request) {
        HttpReplies.send(ctx, request, answer(ctx, request));
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        HttpReplies.failed(ctx, cause);
    }

    private FullHttpResponse answer(ChannelHandlerContext ctx, FullHttpRequest request) {
        if (!request.decoderResult().isSuccess()) {
            return text(HttpResponseStatus.BAD_REQUEST, "bad request\n");
        }
        String path = new QueryStringDecoder(request.uri()).path();
        boolean get = request.method().equals(HttpMethod.GET) || request.method().equals(HttpMethod.HEAD);
        if (path.equals("/healthz") || path.equals("/livez")) {
            if (!get) {
                return notAllowed("GET");
            }
            return context.proxierHealth() == null ? health() : proxierHealth(path.equals("/healthz"));
        }
        if (!context.full()) {
            return text(HttpResponseStatus.NOT_FOUND, "not found: this address serves /healthz and /livez\n");
        }
        var foreignHost = CrossSiteGuard.foreignHost(request, context.allowedHosts());
        if (foreignHost.isPresent()) {
            return text(foreignHost.get().status(), foreignHost.get().message() + "\n");
        }
        return switch (path) {
            case "/metrics" -> get ? response(HttpResponseStatus.OK, PROMETHEUS_TEXT,
                    context.balancer().metrics().scrape().getBytes(StandardCharsets.UTF_8)) : notAllowed("GET");
            case "/proxyMode" -> get ? text(HttpResponseStatus.OK, "userspace") : notAllowed("GET");
            case "/api/v1/services" -> get ? json(HttpResponseStatus.OK,
                    ServicesView.of(context.balancer(), context.rates(), AdminServer.RATE_INTERVAL_SECONDS))
                    : notAllowed("GET");
            case "/", "/stats" -> get ? response(HttpResponseStatus.OK, "text/html; charset=utf-8", context.statsPage())
                    : notAllowed("GET");
            case "/api/v1/reload" -> !request.method().equals(HttpMethod.POST) ? notAllowed("POST")
                    : CrossSiteGuard.refusal(request, ((InetSocketAddress) ctx.channel().localAddress()).getPort())
                            .map(why -> text(why.status(), why.message() + "\n"))
                            .orElseGet(this::reload);
            default -> text(HttpResponseStatus.NOT_FOUND, "not found: " + path + "\n");
        };
    }

    /**
     * kube-proxy's health answer: 200 once a snapshot is in force, 503 before. The times are
     * ISO-8601 (kube-proxy prints Go's time format); the fields are the same.
     */
    private FullHttpResponse health() {
        Instant updated = context.balancer().lastUpdated();
        ObjectNode body = JSON.createObjectNode();
        body.put("lastUpdated", updated == null ? "" : updated.toString());
        body.put("currentTime", Instant.now().toString());
        FullHttpResponse response = json(updated != null ? HttpResponseStatus.OK : HttpResponseStatus.SERVICE_UNAVAILABLE, body);
        response.headers().set("X-Content-Type-Options", "nosniff");
        return response;
    }

    /**
     * kube-proxy's /healthz and /livez (pkg/proxy/healthcheck/proxy_health.go): 503 once a change
     * has waited past the health timeout (and, l4lb's own rule, before the first sync), 200
     * otherwise; the same fields in the same order, with
     * ISO-8601 times where kube-proxy has RFC 3339 (the same shape; Go's zero time when never synced).
     * While healthy, lastUpdated is the current time, as kube-proxy reports it: older kube-proxies
     * bumped it on every sync loop, and monitors that alarm on its age rely on that.
     */
    private FullHttpResponse proxierHealth(boolean healthz) {
        ProxierHealth.Status status = context.proxierHealth().status(Instant.now());
        // kube-proxy takes a node that is being deleted, or tainted ToBeDeletedByClusterAutoscaler,
        // out of rotation (/healthz only; /livez is the proxier's own health).
        boolean nodeEligible = context.proxierHealth().nodeEligible();
        boolean ok = status.healthy() && (!healthz || nodeEligible);
        Instant lastUpdated = ok ? status.currentTime()
                : status.lastUpdated() == null ? GO_ZERO_TIME : status.lastUpdated();
        ObjectNode body = JSON.createObjectNode();
        body.put("lastUpdated", lastUpdated.toString());
        body.put("currentTime", status.currentTime().toString());
        if (healthz) {
            body.put("nodeEligible", nodeEligible);
        }
        body.put("healthy", status.healthy());
        // kube-proxy adds "status", keyed by IP family, with one proxier per family. l4lb's one
        // proxier serves both families, so it has nothing per family to tell, and leaves the field
        // out as kube-proxy does when it has no family to report (omitempty).
        FullHttpResponse response = json(ok ? HttpResponseStatus.OK : HttpResponseStatus.SERVICE_UNAVAILABLE, body);
        response.headers().set("X-Content-Type-Options", "nosniff");
        return response;
    }

    private FullHttpResponse reload() {
        ConfigReloader reloader = context.reloader();
        if (reloader == null) {
            ObjectNode body = JSON.createObjectNode();
            body.put("applied", false);
            body.putArray("errors").add("this balancer has no config file to reload: lb demo serves its built-in config, "
                    + "lb kube follows the API server, and lb run --manifests reads its manifests again on SIGHUP");
            return json(HttpResponseStatus.CONFLICT, body);
        }
        Reload result = reloader.reload();
        return json(result.applied() ? HttpResponseStatus.OK : HttpResponseStatus.UNPROCESSABLE_ENTITY,
                reloadJson(result, reloader));
    }

    private static ObjectNode reloadJson(Reload result, ConfigReloader reloader) {
        ObjectNode body = JSON.createObjectNode();
        body.put("applied", result.applied());
        body.put("file", reloader.file().toString());
        body.put("seconds", result.took().toNanos() / 1e9);
        ObjectNode changes = body.putObject("changes");
        var diff = result.changes();
        strings(changes.putArray("servicesAdded"), diff.servicesAdded());
        strings(changes.putArray("servicesRemoved"), diff.servicesRemoved());
        strings(changes.putArray("portsAdded"), diff.portsAdded());
        strings(changes.putArray("portsRemoved"), diff.portsRemoved());
        strings(changes.putArray("portsChanged"), diff.portsChanged());
        strings(changes.putArray("endpointsAdded"), diff.endpointsAdded());
        strings(changes.putArray("endpointsRemoved"), diff.endpointsRemoved());
        strings(changes.putArray("endpointsChanged"), diff.endpointsChanged());
        ArrayNode bound = body.putArray("listenersBound");
        result.listenersBound().forEach(a -> bound.add(Addresses.format(a)));
        ArrayNode closed = body.putArray("listenersClosed");
        result.listenersClosed().forEach(a -> closed.add(Addresses.format(a)));
        strings(body.putArray("errors"), result.errors());
        strings(body.putArray("warnings"), result.warnings());
        return body;
    }

    private static void strings(ArrayNode array, Iterable<String> items) {
        items.forEach(array::add);
    }

    private static FullHttpResponse notAllowed(String allowed) {
        FullHttpResponse response = text(HttpResponseStatus.METHOD_NOT_ALLOWED, "method not allowed; use " + allowed + "\n");
        response.headers().set(HttpHeaderNames.ALLOW, allowed);
        return response;
    }

    private static FullHttpResponse json(HttpResponseStatus status, ObjectNode body) {
        return response(status, HttpHeaderValues.APPLICATION_JSON.toString(),
                JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(body));
    }

    private static FullHttpResponse text(HttpResponseStatus status, String body) {
        return response(status, "text/plain; charset=utf-8", body.getBytes(StandardCharsets.UTF_8));
    }

    private static FullHttpResponse response(HttpResponseStatus status, String contentType, byte[] body) {
        FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status, Unpooled.wrappedBuffer(body));
        response.headers().set(HttpHeaderNames.CONTENT_TYPE, contentType);
        response.headers().set(HttpHeaderNames.CACHE_CONTROL, "no-store");
        return response;
    }
}

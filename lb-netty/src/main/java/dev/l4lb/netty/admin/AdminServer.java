package dev.l4lb.netty.admin;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.timeout.ReadTimeoutHandler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.l4lb.core.config.AdminConfig;
import dev.l4lb.core.kube.ProxierHealth;
import dev.l4lb.core.model.Addresses;
import dev.l4lb.netty.transport.AcceptErrors;
import dev.l4lb.netty.Balancer;
import dev.l4lb.netty.transport.BindFailure;
import dev.l4lb.netty.ConfigReloader;
import dev.l4lb.netty.transport.ListenerPause;
import dev.l4lb.netty.transport.Transport;

/**
 * The admin HTTP server, on one event loop of its own so that a scrape or a reload never runs
 * on the data plane's threads. As kube-proxy does, it answers on two addresses: metrics
 * (metrics, proxy mode, health, the services API, the stats page, reload) and health (health only).
 */
public final class AdminServer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(AdminServer.class);
    /** IPVS's estimator samples every 2 s; so does ours. */
    static final int RATE_INTERVAL_SECONDS = 2;
    /** Requests are small; anything larger is not for us. */
    private static final int MAX_REQUEST_BYTES = 64 << 10;

    private final EventLoopGroup group;
    private final List<Channel> listeners;

    private AdminServer(EventLoopGroup group, List<Channel> listeners) {
        this.group = group;
        this.listeners = listeners;
    }

    /**
     * Starts listening on the metrics and health addresses of {@code config}.
     *
     * @param reloader what {@code POST /api/v1/reload} runs; null when the balancer has no file to reload
     * @throws BindFailure when an address cannot be bound; nothing is left listening then
     */
    public static AdminServer start(AdminConfig config, Balancer balancer, ConfigReloader reloader) throws BindFailure {
        return start(config, balancer, reloader, null);
    }

    /**
     * Starts listening on the metrics and health addresses of {@code config}, with /healthz and
     * /livez judged by kube-proxy's staleness rule.
     *
     * @param reloader      what {@code POST /api/v1/reload} runs; null when the balancer has no file to reload
     * @param proxierHealth what /healthz and /livez answer from; null to answer from the snapshot in
     *                      force alone (200 once there is one), as the file-config modes do
     * @throws BindFailure when an address cannot be bound; nothing is left listening then
     */
    public static AdminServer start(AdminConfig config, Balancer balancer, ConfigReloader reloader,
                                    ProxierHealth proxierHealth) throws BindFailure {
        EventLoopGroup group = Transport.NIO.newGroup(1, "l4lb-admin");
        RateEstimator rates = new RateEstimator(balancer::snapshot);
        group.next().scheduleAtFixedRate(rates, 0, RATE_INTERVAL_SECONDS, TimeUnit.SECONDS);
        byte[] statsPage = statsPage();
        List<Channel> listeners = new ArrayList<>(2);
        // Failed accepts (out of fds, as under a flood of connections) are logged every 10 s at most, not per connection.
        AcceptErrors acceptErrors = new AcceptErrors("admin server", new ListenerPause());
        MeterRegistry registry = balancer.metrics().registry();
        Set<String> allowedHosts = Set.copyOf(config.allowedHosts());
        Limits limits = new Limits(new AdminConnections(registry), closedCounter(registry, "request_timeout"));
        try {
            listeners.add(bind(group, config.metrics(), "admin.metrics", acceptErrors, limits,
                    new AdminHandler.Context(balancer, reloader, rates, statsPage, proxierHealth, true, allowedHosts)));
            listeners.add(bind(group, config.healthz(), "admin.healthz", acceptErrors, limits,
                    new AdminHandler.Context(balancer, reloader, rates, statsPage, proxierHealth, false, allowedHosts)));
        } catch (BindFailure e) {
            listeners.forEach(Channel::close);
            group.shutdownGracefully(0, 0, TimeUnit.MILLISECONDS).syncUninterruptibly();
            throw e;
        }
        AdminServer server = new AdminServer(group, listeners);
        LOG.info("admin: metrics, API and stats page on http://{}/ ; health on http://{}/healthz",
                Addresses.format(server.metricsAddress()), Addresses.format(server.healthAddress()));
        for (InetSocketAddress address : List.of(config.metrics(), config.healthz())) {
            if (!address.getAddress().isLoopbackAddress()) {
                LOG.warn("admin address {} is not loopback: anyone who reaches it can read every endpoint and "
                        + "reload the config", Addresses.format(address));
            }
        }
        return server;
    }

    /** Where metrics, the API and the stats page answer (the bound port when 0 was asked for). */
    public InetSocketAddress metricsAddress() {
        return (InetSocketAddress) listeners.get(0).localAddress();
    }

    /** Where /healthz answers. */
    public InetSocketAddress healthAddress() {
        return (InetSocketAddress) listeners.get(1).localAddress();
    }

    @Override
    public void close() {
        listeners.forEach(ch -> ch.close().syncUninterruptibly());
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    /** What bounds the admin server's connections, shared by both its addresses. */
    private record Limits(AdminConnections connections, Counter requestTimeouts) {
    }

    /** {@code l4lb_admin_connections_closed_total{reason}}: connections the admin server closed on its own. */
    static Counter closedCounter(MeterRegistry registry, String reason) {
        return Counter.builder("l4lb.admin.connections.closed")
                .tag("reason", reason)
                .description("Admin connections closed by the server: limit (more than " + AdminConnections.MAX
                        + " open; reset at once) or request_timeout (no whole request within "
                        + RequestDeadline.SECONDS + " s)")
                .register(registry);
    }

    private static Channel bind(EventLoopGroup group, InetSocketAddress address, String owner, AcceptErrors acceptErrors,
                                Limits limits, AdminHandler.Context context) throws BindFailure {
        try {
            return new ServerBootstrap()
                    .group(group)
                    .channel(Transport.NIO.serverSocketChannel())
                    .handler(acceptErrors)
                    .childHandler(new ChannelInitializer<>() {
                        @Override
                        protected void initChannel(Channel ch) {
                            ch.pipeline().addLast(
                                    limits.connections(),
                                    // A client that stops reading its answer sends nothing either: closed after a minute.
                                    new ReadTimeoutHandler(60),
                                    new HttpServerCodec(),
                                    new HttpObjectAggregator(MAX_REQUEST_BYTES),
                                    new RequestDeadline(limits.requestTimeouts()),
                                    new AdminHandler(context));
                        }
                    })
                    .bind(address).sync().channel();
        } catch (Exception e) {
            throw new BindFailure(address, owner, e);
        }
    }

    private static byte[] statsPage() {
        try (InputStream in = AdminServer.class.getResourceAsStream("/admin/stats.html")) {
            if (in == null) {
                throw new IllegalStateException("/admin/stats.html is missing from the jar");
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}

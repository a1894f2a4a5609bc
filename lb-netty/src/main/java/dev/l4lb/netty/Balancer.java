package dev.l4lb.netty;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

import io.netty.channel.MultiThreadIoEventLoopGroup;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.l4lb.core.config.BalancerConfig;
import dev.l4lb.core.model.Service;
import dev.l4lb.core.table.ServiceSnapshot;
import dev.l4lb.netty.tcp.TcpDataPlane;

/**
 * A running balancer: one event-loop group sized to the cores, the TCP data plane on it, and
 * the current snapshot. Started from a validated config; stopped by {@link #shutdown}.
 */
public final class Balancer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(Balancer.class);

    private final Transport transport;
    private final MultiThreadIoEventLoopGroup group;
    private final TcpDataPlane tcp;

    private Balancer(Transport transport, int threads) {
        this.transport = transport;
        this.group = transport.newGroup(threads, "l4lb-io");
        this.tcp = new TcpDataPlane(transport, group);
    }

    /**
     * Binds every listener of {@code config} and starts relaying.
     *
     * @param threads event loops; 0 means one per core
     * @throws BindFailure when a listener cannot be bound; nothing is left listening then
     */
    public static Balancer start(BalancerConfig config, Transport transport, int threads) throws BindFailure {
        int loops = threads > 0 ? threads : Runtime.getRuntime().availableProcessors();
        Balancer balancer = new Balancer(transport, loops);
        try {
            balancer.tcp.apply(ServiceSnapshot.build(config.services(), ServiceSnapshot.empty()));
            balancer.tcp.bind();
        } catch (BindFailure | RuntimeException e) {
            balancer.group.shutdownGracefully(0, 0, TimeUnit.MILLISECONDS).syncUninterruptibly();
            throw e;
        }
        LOG.info("serving {} on transport {} with {} event loop(s), {} listener socket(s){}",
                describe(config.services()), transport.displayName(), loops, balancer.tcp.listenerCount(),
                transport.reusePortOption() != null ? " (SO_REUSEPORT: one per listener and loop)" : "");
        return balancer;
    }

    public Transport transport() {
        return transport;
    }

    /** The routing table in force. */
    public ServiceSnapshot snapshot() {
        return tcp.snapshot();
    }

    public TcpDataPlane tcp() {
        return tcp;
    }

    /**
     * Stops accepting, lets open connections finish for up to {@code grace}, then closes what is
     * left and stops the event loops.
     */
    public void shutdown(Duration grace) {
        tcp.closeListeners();
        long deadline = System.nanoTime() + grace.toNanos();
        int active = tcp.snapshot().activeConnections();
        if (active > 0) {
            LOG.info("listeners closed; draining {} connection(s) for up to {} s", active, grace.toSeconds());
        }
        while (active > 0 && System.nanoTime() < deadline) {
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
            active = tcp.snapshot().activeConnections();
        }
        if (active > 0) {
            LOG.info("grace period over: closing {} connection(s)", active);
        }
        group.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
    }

    /** Shuts down with no grace period. */
    @Override
    public void close() {
        shutdown(Duration.ZERO);
    }

    private static String describe(List<Service> services) {
        int ports = services.stream().mapToInt(s -> s.ports().size()).sum();
        return services.size() + " service(s), " + ports + " port(s)";
    }
}

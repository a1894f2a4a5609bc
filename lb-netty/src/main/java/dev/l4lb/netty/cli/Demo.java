package dev.l4lb.netty.cli;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

import dev.l4lb.core.config.BalancerConfig;
import dev.l4lb.core.config.ConfigException;
import dev.l4lb.core.config.ConfigLoader;
import dev.l4lb.core.model.Endpoint;
import dev.l4lb.core.model.Service;
import dev.l4lb.core.model.ServicePort;
import dev.l4lb.netty.Balancer;
import dev.l4lb.netty.BindFailure;
import dev.l4lb.netty.Transport;
import dev.l4lb.netty.echo.EchoServer;

/**
 * What {@code lb demo} runs: an echo backend on every endpoint address of a config, and the
 * balancer in front of them.
 */
public final class Demo implements AutoCloseable {
    /** The demo config inside the jar (a copy of config/demo.yaml). */
    public static final String EMBEDDED_CONFIG = "/config/demo.yaml";

    private final EchoServer backends;
    private final Balancer balancer;

    private Demo(EchoServer backends, Balancer balancer) {
        this.backends = backends;
        this.balancer = balancer;
    }

    /** Reads the demo config shipped in the jar. */
    public static BalancerConfig embeddedConfig() throws ConfigException {
        try (InputStream in = Demo.class.getResourceAsStream(EMBEDDED_CONFIG)) {
            if (in == null) {
                throw new IllegalStateException(EMBEDDED_CONFIG + " is missing from the jar");
            }
            return ConfigLoader.parse("(embedded) config/demo.yaml", new String(in.readAllBytes(), StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Starts the backends, then the balancer; on failure nothing is left listening. */
    public static Demo start(BalancerConfig config, Transport transport, int threads) throws BindFailure {
        EchoServer backends = EchoServer.start(endpointAddresses(config), transport, 1);
        try {
            return new Demo(backends, Balancer.start(config, transport, threads));
        } catch (BindFailure | RuntimeException e) {
            backends.close();
            throw e;
        }
    }

    public Balancer balancer() {
        return balancer;
    }

    public List<InetSocketAddress> backendAddresses() {
        return backends.addresses();
    }

    /** Stops the balancer (draining for up to {@code grace}), then the backends. */
    public void shutdown(Duration grace) {
        balancer.shutdown(grace);
        backends.close();
    }

    @Override
    public void close() {
        shutdown(Duration.ZERO);
    }

    private static List<InetSocketAddress> endpointAddresses(BalancerConfig config) {
        Set<InetSocketAddress> addresses = new LinkedHashSet<>();
        for (Service service : config.services()) {
            for (ServicePort port : service.ports()) {
                for (Endpoint endpoint : port.endpoints()) {
                    addresses.add(endpoint.address());
                }
            }
        }
        return List.copyOf(addresses);
    }
}

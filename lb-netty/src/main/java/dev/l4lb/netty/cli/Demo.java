package dev.l4lb.netty.cli;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import dev.l4lb.core.config.BalancerConfig;
import dev.l4lb.core.config.ConfigException;
import dev.l4lb.core.config.ConfigLoader;
import dev.l4lb.core.model.Addresses;
import dev.l4lb.core.model.Endpoint;
import dev.l4lb.core.model.Protocol;
import dev.l4lb.core.model.ProxyProtocol;
import dev.l4lb.core.model.Service;
import dev.l4lb.core.model.ServicePort;
import dev.l4lb.netty.Balancer;
import dev.l4lb.netty.transport.BindFailure;
import dev.l4lb.netty.transport.Transport;
import dev.l4lb.netty.echo.EchoServer;
import dev.l4lb.netty.log.ConnectionLog;

/**
 * What {@code lb demo} runs: an echo backend on every endpoint address of a config, and the
 * balancer in front of them.
 */
public final class Demo implements AutoCloseable {
    /** The demo config inside the jar (a copy of config/demo.yaml). */
    public static final String EMBEDDED_CONFIG = "/config/demo.yaml";

    private final List<EchoServer> backends;
    private final Balancer balancer;

    private Demo(List<EchoServer> backends, Balancer balancer) {
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

    /**
     * Starts the backends, then the balancer; on failure nothing is left listening. Endpoints of
     * ports that send a PROXY header get backends that read it, so their page shows the real
     * client; endpoints of UDP ports get UDP echo backends.
     */
    public static Demo start(BalancerConfig config, Transport transport, int threads) throws BindFailure {
        return start(config, transport, threads, ConnectionLog.off());
    }

    /** As {@link #start(BalancerConfig, Transport, int)}, logging closed connections to {@code connectionLog}. */
    public static Demo start(BalancerConfig config, Transport transport, int threads, ConnectionLog connectionLog)
            throws BindFailure {
        List<EchoServer> backends = new ArrayList<>(2);
        try {
            Map<Boolean, List<InetSocketAddress>> byHeader = endpointAddresses(config, Protocol.TCP);
            for (Map.Entry<Boolean, List<InetSocketAddress>> group : byHeader.entrySet()) {
                if (!group.getValue().isEmpty()) {
                    backends.add(EchoServer.start(group.getValue(), transport, 1, group.getKey()));
                }
            }
            List<InetSocketAddress> udp = endpointAddresses(config, Protocol.UDP).get(false);
            if (!udp.isEmpty()) {
                backends.add(EchoServer.startUdp(udp, transport, 1));
            }
            return new Demo(List.copyOf(backends), Balancer.start(config, transport, threads, connectionLog));
        } catch (BindFailure | RuntimeException e) {
            backends.forEach(EchoServer::close);
            throw e;
        }
    }

    public Balancer balancer() {
        return balancer;
    }

    public List<InetSocketAddress> backendAddresses() {
        return backends.stream().flatMap(b -> b.addresses().stream()).toList();
    }

    /** Stops the balancer (draining for up to {@code grace}), then the backends. */
    public void shutdown(Duration grace) {
        balancer.shutdown(grace);
        backends.forEach(EchoServer::close);
    }

    @Override
    public void close() {
        shutdown(Duration.ZERO);
    }

    /**
     * Every endpoint address of {@code protocol}'s ports, split by whether a port sends it a PROXY
     * header. An address that one port sends headers to and another does not cannot be both kinds
     * of backend: refused.
     */
    private static Map<Boolean, List<InetSocketAddress>> endpointAddresses(BalancerConfig config, Protocol protocol) {
        Map<InetSocketAddress, Boolean> header = new LinkedHashMap<>();
        for (Service service : config.services()) {
            for (ServicePort port : service.ports()) {
                if (port.protocol() != protocol) {
                    continue;
                }
                boolean sends = port.policy().proxyProtocol() != ProxyProtocol.NONE;
                for (Endpoint endpoint : port.endpoints()) {
                    Boolean before = header.putIfAbsent(endpoint.address(), sends);
                    if (before != null && before != sends) {
                        throw new IllegalArgumentException("demo backend " + Addresses.format(endpoint.address())
                                + " is an endpoint of ports with and without proxyProtocol; give each its own");
                    }
                }
            }
        }
        Map<Boolean, List<InetSocketAddress>> split = new LinkedHashMap<>();
        split.put(false, new ArrayList<>());
        split.put(true, new ArrayList<>());
        header.forEach((address, sends) -> split.get(sends).add(address));
        return split;
    }
}

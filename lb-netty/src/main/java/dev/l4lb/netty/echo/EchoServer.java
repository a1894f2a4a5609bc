package dev.l4lb.netty.echo;

import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.handler.codec.haproxy.HAProxyMessageDecoder;

import dev.l4lb.core.model.Addresses;
import dev.l4lb.netty.transport.BindFailure;
import dev.l4lb.netty.transport.Transport;
import dev.l4lb.netty.udp.UdpDataPlane;

/**
 * Test backends ("pods"): on each listen address, HTTP requests get a plain-text page of
 * {@code key=value} lines in the manner of Kubernetes' echoserver image (including which backend
 * answered and the client address it saw), and anything that is not HTTP is echoed byte for byte.
 * Or, started with {@link #startUdp}, UDP backends that echo datagrams.
 */
public final class EchoServer implements AutoCloseable {

    private final MultiThreadIoEventLoopGroup group;
    private final List<Channel> listeners = new ArrayList<>();

    private EchoServer(Transport transport, int threads) {
        this.group = transport.newGroup(threads, "l4lb-echo");
    }

    /**
     * Listens on every address; on any failure closes what it bound and throws.
     *
     * @param threads event loops for all the backends together
     */
    public static EchoServer start(List<InetSocketAddress> addresses, Transport transport, int threads) throws BindFailure {
        return start(addresses, transport, threads, false);
    }

    /**
     * As {@link #start(List, Transport, int)}; with {@code proxyProtocol} every connection must
     * begin with a PROXY header (v1 or v2), as behind nginx's {@code proxy_protocol} or HAProxy's
     * {@code accept-proxy}, and the page reports the client the header names.
     */
    public static EchoServer start(List<InetSocketAddress> addresses, Transport transport, int threads,
                                   boolean proxyProtocol) throws BindFailure {
        EchoServer server = new EchoServer(transport, threads);
        for (InetSocketAddress address : addresses) {
            try {
                Channel listener = new ServerBootstrap()
                        .group(server.group)
                        .channel(transport.serverSocketChannel())
                        .childOption(ChannelOption.ALLOW_HALF_CLOSURE, true)
                        .childOption(ChannelOption.TCP_NODELAY, true)
                        .childHandler(new ChannelInitializer<>() {
                            @Override
                            protected void initChannel(Channel ch) {
                                // Name the socket actually bound, which differs from the request when it asked for port 0.
                                String self = Addresses.format((InetSocketAddress) ch.parent().localAddress());
                                if (proxyProtocol) {
                                    ch.pipeline().addLast("proxy-header", new HAProxyMessageDecoder())
                                            .addLast("proxy-header-seen", new ProxyHeaderSeen.Recorder());
                                }
                                ch.pipeline().addLast("sniff", new ProtocolSniffer(self));
                            }
                        })
                        .bind(address).sync().channel();
                server.listeners.add(listener);
            } catch (Exception e) {
                server.close();
                throw new BindFailure(address, "echo server", e);
            }
        }
        return server;
    }

    /**
     * UDP backends: one datagram socket on each address, answering every datagram to its sender
     * from that socket ({@code whoami} gets {@code backend=ADDR:PORT client=ADDR:PORT}, anything
     * else comes back unchanged). On any failure closes what it bound and throws.
     *
     * @param threads event loops for all the sockets together
     */
    public static EchoServer startUdp(List<InetSocketAddress> addresses, Transport transport, int threads) throws BindFailure {
        EchoServer server = new EchoServer(transport, threads);
        UdpEchoHandler handler = new UdpEchoHandler();
        for (InetSocketAddress address : addresses) {
            try {
                Channel socket = new Bootstrap()
                        .group(server.group)
                        .channel(transport.datagramChannel())
                        .option(ChannelOption.RECVBUF_ALLOCATOR, UdpDataPlane.DATAGRAMS) // the largest datagram, uncut
                        .handler(handler)
                        .bind(address).sync().channel();
                server.listeners.add(socket);
            } catch (Exception e) {
                server.close();
                throw new BindFailure(address, "udp echo server", e);
            }
        }
        return server;
    }

    /** The addresses actually bound (ports resolved when 0 was asked for). */
    public List<InetSocketAddress> addresses() {
        return listeners.stream().map(c -> (InetSocketAddress) c.localAddress()).toList();
    }

    /** Stops the backends; closing again does nothing (a test may stop one early). */
    @Override
    public void close() {
        if (group.isShuttingDown()) {
            return;
        }
        for (Channel listener : listeners) {
            listener.close().syncUninterruptibly();
        }
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }
}

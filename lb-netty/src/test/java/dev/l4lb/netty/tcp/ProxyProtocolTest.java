package dev.l4lb.netty.tcp;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.handler.codec.haproxy.HAProxyMessage;
import io.netty.handler.codec.haproxy.HAProxyMessageDecoder;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import dev.l4lb.netty.Balancer;
import dev.l4lb.netty.transport.Transport;
import dev.l4lb.netty.testing.Configs;
import dev.l4lb.netty.testing.NoLeaks;
import dev.l4lb.netty.testing.Ports;
import dev.l4lb.netty.testing.Sockets;

/**
 * {@code proxyProtocol: v1|v2}: the backend's first bytes are a PROXY header naming the real
 * client and the address it connected to; the client's bytes follow untouched. The backend here
 * decodes with Netty's HAProxyMessageDecoder, which rejects anything else.
 */
@ExtendWith(NoLeaks.class)
class ProxyProtocolTest {

    @ParameterizedTest
    @ValueSource(strings = {"v1", "v2"})
    void theBackendLearnsTheRealClientFromTheHeader(String version) throws Exception {
        Transport transport = Transport.select("auto");
        CompletableFuture<String> header = new CompletableFuture<>();
        CompletableFuture<String> firstBytes = new CompletableFuture<>();
        MultiThreadIoEventLoopGroup group = transport.newGroup(1, "pp-backend");
        try {
            Channel backend = new ServerBootstrap()
                    .group(group)
                    .channel(transport.serverSocketChannel())
                    .childHandler(new ChannelInitializer<>() {
                        @Override
                        protected void initChannel(Channel ch) {
                            ch.pipeline().addLast(new HAProxyMessageDecoder(), new ChannelInboundHandlerAdapter() {
                                @Override
                                public void channelRead(ChannelHandlerContext ctx, Object msg) {
                                    if (msg instanceof HAProxyMessage m) {
                                        header.complete(m.protocolVersion() + " " + m.proxiedProtocol() + " "
                                                + m.sourceAddress() + ":" + m.sourcePort() + " -> "
                                                + m.destinationAddress() + ":" + m.destinationPort());
                                        m.release();
                                    } else {
                                        ByteBuf data = (ByteBuf) msg;
                                        firstBytes.complete(data.toString(StandardCharsets.US_ASCII));
                                        ctx.writeAndFlush(data);
                                    }
                                }

                                @Override
                                public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                                    header.completeExceptionally(cause);
                                    ctx.close();
                                }
                            });
                        }
                    })
                    .bind(Ports.loopback(0)).sync().channel();
            InetSocketAddress listen = Ports.loopback(Ports.free());
            try (Balancer balancer = Balancer.start(Configs.tcp(listen,
                    List.of((InetSocketAddress) backend.localAddress()), "proxyProtocol: " + version), transport, 2);
                 Socket client = Sockets.connect(listen)) {
                client.getOutputStream().write("hello".getBytes(StandardCharsets.US_ASCII));
                assertThat(new String(client.getInputStream().readNBytes(5), StandardCharsets.US_ASCII)).isEqualTo("hello");

                String expected = version.toUpperCase() + " TCP4 127.0.0.1:" + client.getLocalPort()
                        + " -> 127.0.0.1:" + listen.getPort();
                assertThat(header.get(10, TimeUnit.SECONDS)).isEqualTo(expected);
                assertThat(firstBytes.get(10, TimeUnit.SECONDS)).isEqualTo("hello");
            }
            backend.close().sync();
        } finally {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        }
    }
}

package dev.l4lb.netty.transport;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.util.ReferenceCountUtil;

import dev.l4lb.netty.testing.Sockets;


/**
 * Netty 4.2.18's epoll defect with half-closed sockets, reproduced with Netty alone, and
 * {@link KeepRegisteredEpollIoHandler}'s way round it. A server reads a request to its end (the
 * client shuts its output), then answers with chunks that each fill the client's small window,
 * writing the next a moment after the last is written: between two chunks the socket waits for
 * nothing, which is when Netty drops it from the epoll set. When this test's first case fails, a Netty
 * upgrade has fixed the defect and the workaround can go.
 */
class EpollHalfCloseTest {
    private static final int CHUNKS = 8;
    private static final int CHUNK = 1 << 20;

    @BeforeAll
    static void epollOnly() {
        Assumptions.assumeTrue(Epoll.isAvailable(), "epoll is not available here");
    }

    @Test
    void nettysOwnEpollLosesWhatIsWrittenOnceTheInputHasEndedAndTheSocketWentIdle() throws Exception {
        assertThat(bytesTheClientGets(EpollIoHandler.newFactory())).isLessThan((long) CHUNKS * CHUNK);
    }

    @Test
    void keptRegistrationsDeliverTheWholeReply() throws Exception {
        assertThat(bytesTheClientGets(KeepRegisteredEpollIoHandler.newFactory())).isEqualTo((long) CHUNKS * CHUNK);
    }

    private static long bytesTheClientGets(IoHandlerFactory epoll) throws Exception {
        MultiThreadIoEventLoopGroup group = new MultiThreadIoEventLoopGroup(1, epoll);
        try {
            Channel server = new ServerBootstrap().group(group).channel(EpollServerSocketChannel.class)
                    .childOption(ChannelOption.ALLOW_HALF_CLOSURE, true)
                    .childOption(ChannelOption.SO_SNDBUF, 32 << 10) // no chunk fits: each must wait to be written
                    .childHandler(new ChunkedReplyAfterTheRequest())
                    .bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0)).sync().channel();
            try (Socket client = new Socket()) {
                client.setReceiveBufferSize(8 << 10); // a small window: every chunk waits for the client
                client.setSoTimeout(10_000);
                client.connect(server.localAddress(), 5000);
                client.getOutputStream().write("request".getBytes(StandardCharsets.US_ASCII));
                client.shutdownOutput();
                TimeUnit.MILLISECONDS.sleep(200); // let the first chunk fill the window before reading
                return Sockets.readUntilEndOrStall(client.getInputStream());
            } finally {
                server.close().sync();
            }
        } finally {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        }
    }

    /** Answers a request read to its end with {@link #CHUNKS} chunks, one after the other, then closes. */
    private static final class ChunkedReplyAfterTheRequest extends ChannelInboundHandlerAdapter {
        private int written;

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ReferenceCountUtil.release(msg);
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (evt instanceof ChannelInputShutdownEvent) {
                writeNext(ctx);
            }
        }

        private void writeNext(ChannelHandlerContext ctx) {
            if (written == CHUNKS) {
                ctx.close();
                return;
            }
            written++;
            ctx.writeAndFlush(Unpooled.wrappedBuffer(new byte[CHUNK])).addListener((ChannelFutureListener) f -> {
                if (f.isSuccess()) {
                    // A moment idle, as a relay is between two reads from its other side.
                    ctx.executor().schedule(() -> writeNext(ctx), 20, TimeUnit.MILLISECONDS);
                } else {
                    ctx.close();
                }
            });
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }
}

package dev.l4lb.netty.tcp;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.channel.uring.IoUringSocketChannel;
import io.netty.util.ReferenceCountUtil;

import dev.l4lb.netty.transport.Transport;
import dev.l4lb.netty.testing.Sockets;

/**
 * Netty 4.2.18's io_uring defect with a peer's early FIN, reproduced with Netty alone, and
 * {@link IoUringWriteKick}'s way round it. A server sends a line and its FIN, waits a moment,
 * then reads everything; the client uploads as its writability allows. The upload fills the
 * socket while the server waits, Netty waits for POLLOUT, the kernel answers with POLLRDHUP,
 * and Netty never writes again. When the first case fails, a Netty upgrade has fixed it and
 * the kick can go.
 */
class IoUringHalfCloseTest {
    private static final int UPLOAD = 8 << 20;
    private static final int CHUNK = 16 << 10;

    @BeforeAll
    static void ioUringOnly() {
        Assumptions.assumeTrue(Transport.IO_URING.isAvailable(), "io_uring is not available here");
    }

    @Test
    void nettysOwnIoUringStopsWritingToASocketWhosePeerSentItsFin() throws Exception {
        assertThat(bytesTheServerGets(false)).isLessThan(UPLOAD);
    }

    @Test
    void theKickKeepsTheWritesGoing() throws Exception {
        assertThat(bytesTheServerGets(true)).isEqualTo(UPLOAD);
    }

    private static int bytesTheServerGets(boolean kick) throws Exception {
        // Netty's io_uring as l4lb sets it up (a buffer ring to read into, a single issuer); with
        // Netty's defaults it stalls the same way.
        MultiThreadIoEventLoopGroup group = Transport.IO_URING.newGroup(1, "io_uring-half-close");
        try (ServerSocket server = new ServerSocket()) {
            server.setReceiveBufferSize(64 << 10);
            server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            CompletableFuture<Integer> serverRead = CompletableFuture.supplyAsync(() -> {
                try (Socket socket = server.accept()) {
                    socket.getOutputStream().write("hello\n".getBytes(StandardCharsets.US_ASCII));
                    socket.shutdownOutput();
                    Thread.sleep(200); // the upload fills the socket meanwhile
                    socket.setSoTimeout(3000);
                    return (int) Sockets.readUntilEndOrStall(socket.getInputStream());
                } catch (IOException | InterruptedException e) {
                    throw new RuntimeException(e);
                }
            });
            Bootstrap bootstrap = new Bootstrap().group(group).channel(IoUringSocketChannel.class)
                    .option(ChannelOption.ALLOW_HALF_CLOSURE, true)
                    .option(ChannelOption.SO_SNDBUF, 64 << 10) // small buffers: the upload must wait
                    // As a relay writes: many buffers per flush (Netty sends them with one WRITEV, which
                    // the kernel answers with EAGAIN when the socket is full; single SENDs wait in the kernel).
                    .option(ChannelOption.WRITE_BUFFER_WATER_MARK, TcpDataPlane.WATER_MARK)
                    .handler(new Uploader(kick));
            Transport.IO_URING.forEachStreamOption(bootstrap::option);
            Channel client = bootstrap.connect(server.getLocalSocketAddress()).sync().channel();
            try {
                return serverRead.get(20, TimeUnit.SECONDS);
            } finally {
                client.close().sync();
            }
        } finally {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        }
    }

    /** Once the server's FIN is in, uploads {@link #UPLOAD} bytes as writability allows, then its own FIN. */
    private static final class Uploader extends ChannelInboundHandlerAdapter {
        private final boolean kick;
        private int sent;
        private boolean started;

        Uploader(boolean kick) {
            this.kick = kick;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ReferenceCountUtil.release(msg);
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (evt instanceof ChannelInputShutdownEvent) {
                started = true;
                writeMore(ctx);
            }
        }

        @Override
        public void channelWritabilityChanged(ChannelHandlerContext ctx) {
            if (started && ctx.channel().isWritable()) {
                writeMore(ctx);
            }
        }

        private void writeMore(ChannelHandlerContext ctx) {
            while (sent < UPLOAD && ctx.channel().isWritable()) {
                ctx.write(Unpooled.wrappedBuffer(new byte[CHUNK]));
                sent += CHUNK;
            }
            if (sent == UPLOAD) {
                ctx.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(f -> ctx.close());
                sent++;
            } else {
                ctx.flush();
            }
            if (kick) {
                IoUringWriteKick.watch(ctx.channel());
            }
        }
    }
}

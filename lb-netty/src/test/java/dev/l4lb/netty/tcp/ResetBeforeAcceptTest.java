package dev.l4lb.netty.tcp;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetSocketAddress;
import java.net.Socket;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.MultiThreadIoEventLoopGroup;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import dev.l4lb.netty.transport.Transport;
import dev.l4lb.netty.testing.Transports;

/**
 * A connection its client resets while it waits in the listen queue is still handed to
 * accept(2): ResetBeforeAccept must tell it from one that is alive (on epoll and io_uring; NIO
 * cannot tell and says no).
 */
class ResetBeforeAcceptTest {

    static List<Transport> transports() {
        return Transports.available();
    }

    @ParameterizedTest
    @MethodSource("transports")
    void tellsAConnectionResetInTheListenQueueFromALiveOne(Transport transport) throws Exception {
        MultiThreadIoEventLoopGroup group = transport.newGroup(1, "reset-test");
        LinkedBlockingQueue<Boolean> seen = new LinkedBlockingQueue<>();
        try {
            Channel server = new ServerBootstrap()
                    .group(group)
                    .channel(transport.serverSocketChannel())
                    .option(ChannelOption.AUTO_READ, false) // not accepting until both are queued
                    .childHandler(new Tell(seen))
                    .bind(new InetSocketAddress("127.0.0.1", 0)).sync().channel();
            InetSocketAddress address = (InetSocketAddress) server.localAddress();
            try (Socket reset = new Socket(); Socket alive = new Socket()) {
                reset.connect(address, 5000);
                reset.setSoLinger(true, 0);
                reset.close(); // RST, while it waits in the queue
                alive.connect(address, 5000);
                Thread.sleep(100);
                CompletableFuture.runAsync(() -> server.config().setAutoRead(true), server.eventLoop()).get(5, TimeUnit.SECONDS);

                Boolean first = seen.poll(5, TimeUnit.SECONDS);
                Boolean second = seen.poll(5, TimeUnit.SECONDS);
                assertThat(second).as("the live connection").isFalse();
                assertThat(first).as("the one reset in the queue").isEqualTo(transport != Transport.NIO);
            } finally {
                server.close().sync();
            }
        } finally {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        }
    }

    /** Records what ResetBeforeAccept says of each accepted connection, then closes it. */
    @ChannelHandler.Sharable
    private static final class Tell extends ChannelInboundHandlerAdapter {
        private final LinkedBlockingQueue<Boolean> seen;

        Tell(LinkedBlockingQueue<Boolean> seen) {
            this.seen = seen;
        }

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            seen.add(ResetBeforeAccept.test(ctx.channel()));
            ctx.close();
        }
    }
}

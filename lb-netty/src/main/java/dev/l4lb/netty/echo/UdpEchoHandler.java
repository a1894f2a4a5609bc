package dev.l4lb.netty.echo;

import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.socket.DatagramPacket;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.l4lb.core.model.Addresses;

/**
 * A UDP test backend: answers each datagram to its sender from the same socket, with
 * {@code backend=ADDR:PORT client=ADDR:PORT} when the payload is exactly {@code whoami}, else
 * with the payload unchanged.
 */
@ChannelHandler.Sharable
final class UdpEchoHandler extends SimpleChannelInboundHandler<DatagramPacket> {
    private static final Logger LOG = LoggerFactory.getLogger(UdpEchoHandler.class);
    private static final byte[] WHOAMI = "whoami".getBytes(StandardCharsets.US_ASCII);

    UdpEchoHandler() {
        super(false); // the echoed payload is handed on to the write, which releases it
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, DatagramPacket packet) {
        InetSocketAddress client = packet.sender();
        ByteBuf payload = packet.content();
        ByteBuf answer;
        if (isWhoami(payload)) {
            payload.release();
            // The socket's own bound address, as the TCP page's backend=; a wildcard bind names 0.0.0.0.
            String text = "backend=" + Addresses.format((InetSocketAddress) ctx.channel().localAddress())
                    + " client=" + Addresses.format(client);
            answer = ByteBufUtil.writeAscii(ctx.alloc(), text);
        } else {
            answer = payload;
        }
        ctx.write(new DatagramPacket(answer, client), ctx.voidPromise());
        if (!ctx.channel().isWritable()) {
            // Stop reading rather than queue without bound; the kernel drops what then overflows
            // the receive buffer, which is what UDP promises anyway.
            ctx.channel().config().setAutoRead(false);
        }
    }

    private static boolean isWhoami(ByteBuf payload) {
        if (payload.readableBytes() != WHOAMI.length) {
            return false;
        }
        for (int i = 0; i < WHOAMI.length; i++) {
            if (payload.getByte(payload.readerIndex() + i) != WHOAMI[i]) {
                return false;
            }
        }
        return true;
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        ctx.flush();
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        ctx.channel().config().setAutoRead(ctx.channel().isWritable());
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        // One socket serves every client: a failed send (an ICMP error reported back, a vanished
        // route) concerns one datagram only and must not close the backend.
        LOG.debug("udp echo on {}: {}", ctx.channel().localAddress(), cause.toString());
    }
}

package dev.l4lb.netty.proxyprotocol;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.handler.codec.haproxy.HAProxyCommand;
import io.netty.handler.codec.haproxy.HAProxyMessage;
import io.netty.handler.codec.haproxy.HAProxyMessageDecoder;
import io.netty.handler.codec.haproxy.HAProxyProxiedProtocol;

import dev.l4lb.core.model.Addresses;
import dev.l4lb.core.table.Outcome;
import dev.l4lb.core.table.PortCounters;

/**
 * Reads the PROXY header (v1 or v2, told apart by Netty's {@link HAProxyMessageDecoder}) a trusted
 * upstream puts before its client's bytes, then fires {@link ProxiedAddresses} and leaves the
 * pipeline; whatever the client sent after the header follows as ordinary reads.
 *
 * <p>A connection that ends before a whole, valid header (malformed, truncated, reset, or not done
 * within the timeout) is closed and counted as {@link Outcome#BAD_PROXY_HEADER}, once. Reads are
 * requested one at a time (the channel does not auto-read), so a header split over many segments
 * is gathered by the decoder without any other bytes being taken in.
 */
public final class ProxyHeaderReader extends ChannelInboundHandlerAdapter {
    private final PortCounters counters;
    private final Duration timeout;
    private Future<?> deadline;
    private boolean done;

    private ProxyHeaderReader(PortCounters counters, Duration timeout) {
        this.counters = counters;
        this.timeout = timeout;
    }

    /**
     * Puts the decoder and a reader in front of {@code before} and starts reading the header of
     * an already active channel.
     */
    public static void install(ChannelPipeline pipeline, String before, PortCounters counters, Duration timeout) {
        pipeline.addBefore(before, "proxy-header-decoder", new HAProxyMessageDecoder());
        pipeline.addBefore(before, "proxy-header-reader", new ProxyHeaderReader(counters, timeout));
        pipeline.channel().read();
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        deadline = ctx.executor().schedule(() -> {
            if (!done) {
                ctx.close(); // counted as it goes inactive
            }
        }, timeout.toNanos(), TimeUnit.NANOSECONDS);
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!(msg instanceof HAProxyMessage header)) {
            ctx.fireChannelRead(msg); // not reached: the decoder passes nothing on before the header
            return;
        }
        ProxiedAddresses addresses;
        try {
            addresses = addresses(header, ctx);
        } finally {
            header.release();
        }
        if (addresses == null) {
            ctx.close();
            return;
        }
        done = true;
        deadline.cancel(false);
        ctx.pipeline().remove(this);
        ctx.fireUserEventTriggered(addresses);
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof ChannelInputShutdownEvent && !done) {
            ctx.close(); // the upstream finished sending before its header was whole
            return;
        }
        ctx.fireUserEventTriggered(evt);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        // The decoder's HAProxyProtocolException for a malformed header, or a reset while waiting.
        ctx.close();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        if (!done) {
            done = true;
            deadline.cancel(false);
            counters.record(Outcome.BAD_PROXY_HEADER);
        }
        ctx.fireChannelInactive();
    }

    /**
     * The addresses a header stands for. LOCAL (an upstream's health check) and families that carry
     * no IP address (UNKNOWN, AF_UNIX) mean the connection speaks for itself, as the spec says the
     * receiver must then use the real connection's addresses. Null for a header claiming a datagram
     * family on this stream connection.
     */
    private static ProxiedAddresses addresses(HAProxyMessage header, ChannelHandlerContext ctx) {
        HAProxyProxiedProtocol family = header.proxiedProtocol();
        if (header.command() == HAProxyCommand.LOCAL || family == HAProxyProxiedProtocol.UNKNOWN
                || family.addressFamily() == HAProxyProxiedProtocol.AddressFamily.AF_UNIX) {
            return new ProxiedAddresses((InetSocketAddress) ctx.channel().remoteAddress(),
                    (InetSocketAddress) ctx.channel().localAddress());
        }
        if (family.transportProtocol() != HAProxyProxiedProtocol.TransportProtocol.STREAM) {
            return null;
        }
        // The decoder has checked both are IP literals of the family; parsing them cannot look up names.
        Optional<InetAddress> source = Addresses.parseIp(header.sourceAddress());
        Optional<InetAddress> destination = Addresses.parseIp(header.destinationAddress());
        if (source.isEmpty() || destination.isEmpty()) {
            return null;
        }
        return new ProxiedAddresses(new InetSocketAddress(source.get(), header.sourcePort()),
                new InetSocketAddress(destination.get(), header.destinationPort()));
    }
}

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
import io.netty.channel.socket.DuplexChannel;
import io.netty.handler.codec.DecoderException;
import io.netty.handler.codec.haproxy.HAProxyCommand;
import io.netty.handler.codec.haproxy.HAProxyMessage;
import io.netty.handler.codec.haproxy.HAProxyMessageDecoder;
import io.netty.handler.codec.haproxy.HAProxyProxiedProtocol;
import org.jspecify.annotations.Nullable;

import dev.l4lb.core.model.Addresses;
import dev.l4lb.core.table.HeaderRejection;
import dev.l4lb.core.table.Outcome;
import dev.l4lb.core.table.ProxyHeaderCounts;

/**
 * Reads the PROXY header (v1 or v2, told apart by Netty's {@link HAProxyMessageDecoder}) a trusted
 * upstream puts before its client's bytes, then fires {@link ProxiedAddresses} and leaves the
 * pipeline; whatever the client sent after the header follows as ordinary reads.
 *
 * <p>A connection that ends before a whole, valid header (malformed, truncated, reset, or not done
 * within the timeout) is closed and counted once, by its {@link HeaderRejection reason}: the
 * first one seen, since a close provokes others. It is counted where {@link ProxyHeaderCounts}
 * says: as the port's {@link Outcome#BAD_PROXY_HEADER}, or the name-routed listener's. Reads are
 * requested one at a time (the channel does not auto-read), so a header split over many segments
 * is gathered by the decoder without any other bytes being taken in.
 */
public final class ProxyHeaderReader extends ChannelInboundHandlerAdapter {
    private final ProxyHeaderCounts counters;
    private final Duration timeout;
    private Future<?> deadline;
    private boolean done;
    private @Nullable HeaderRejection rejection;

    private ProxyHeaderReader(ProxyHeaderCounts counters, Duration timeout) {
        this.counters = counters;
        this.timeout = timeout;
    }

    /**
     * Puts the decoder and a reader in front of {@code before} and starts reading the header of
     * an already active channel.
     */
    public static void install(ChannelPipeline pipeline, String before, ProxyHeaderCounts counters, Duration timeout) {
        pipeline.addBefore(before, "proxy-header-decoder", new HAProxyMessageDecoder());
        pipeline.addBefore(before, "proxy-header-reader", new ProxyHeaderReader(counters, timeout));
        pipeline.channel().read();
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        deadline = ctx.executor().schedule(() -> {
            if (!done) {
                reject(ctx, HeaderRejection.TIMEOUT);
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
            reject(ctx, HeaderRejection.UNSUPPORTED);
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
            reject(ctx, HeaderRejection.TRUNCATED); // the upstream finished sending before its header was whole
            return;
        }
        ctx.fireUserEventTriggered(evt);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        // The decoder's exception for a malformed header (HAProxyProtocolException, or another
        // DecoderException: Netty 4.2.18 reads a TLV longer than the header with an unchecked
        // slice), or a reset while waiting: the peer's doing, so closed and counted, never logged
        // per connection. The decoder also fails a header whose input ended part-way (it decodes
        // what is left when the FIN comes): that one was cut short.
        boolean inputEnded = ctx.channel() instanceof DuplexChannel duplex && duplex.isInputShutdown();
        reject(ctx, cause instanceof DecoderException && !inputEnded ? HeaderRejection.MALFORMED
                : HeaderRejection.TRUNCATED);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        if (!done) {
            done = true;
            deadline.cancel(false);
            counters.headerRejected(rejection == null ? HeaderRejection.TRUNCATED : rejection); // null: gone unseen
        }
        ctx.fireChannelInactive();
    }

    /** Closes the connection, to be counted for {@code why} as it goes inactive. */
    private void reject(ChannelHandlerContext ctx, HeaderRejection why) {
        if (rejection == null) {
            rejection = why;
        }
        ctx.close();
    }

    /**
     * The addresses a header stands for. LOCAL (an upstream's health check) and families that carry
     * no IP address (UNKNOWN, AF_UNIX) mean the connection speaks for itself, as the spec says the
     * receiver must then use the real connection's addresses. Null for a header claiming a datagram
     * family on this stream connection.
     */
    private static @Nullable ProxiedAddresses addresses(HAProxyMessage header, ChannelHandlerContext ctx) {
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

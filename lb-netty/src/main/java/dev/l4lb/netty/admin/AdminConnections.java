package dev.l4lb.netty.admin;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;

/**
 * The admin server's own small share of descriptors: at most {@link #MAX} connections at once,
 * over both its addresses; one more is reset as soon as it is accepted, so a flood of idle
 * connections costs the process {@code MAX} descriptors, well inside the reserve the data plane
 * leaves for everything else ({@code tcp.DescriptorBudget}), and cannot starve the data plane as
 * it once did (issue #21: 1,010 idle admin connections under {@code ulimit -n 1024}). Each held
 * connection must send its next request within {@link RequestDeadline}'s time, so the flood's
 * connections make way within seconds for a probe or a scrape. Shared by every connection of one
 * admin server, all on its one event loop.
 */
@ChannelHandler.Sharable
final class AdminConnections extends ChannelInboundHandlerAdapter {
    /** Scrapers, probes, a stats page in a browser or two, and curl: a few each. */
    static final int MAX = 64;

    private final Counter refused;
    private int open;

    AdminConnections(MeterRegistry registry) {
        this.refused = AdminServer.closedCounter(registry, "limit");
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        if (open >= MAX) {
            refused.increment();
            // A reset: no TIME_WAIT left behind for each connection of a flood.
            ctx.channel().config().setOption(ChannelOption.SO_LINGER, 0);
            ctx.close();
            return;
        }
        open++;
        ctx.channel().closeFuture().addListener(f -> open--);
        ctx.fireChannelActive();
        ctx.pipeline().remove(this); // nothing more to see: the close listener counts the connection out
    }
}

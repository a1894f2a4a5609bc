package dev.l4lb.netty.echo;

import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Locale;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.haproxy.HAProxyCommand;
import io.netty.handler.codec.haproxy.HAProxyMessage;
import io.netty.handler.codec.haproxy.HAProxyProxiedProtocol;
import io.netty.handler.codec.haproxy.HAProxyTLV;
import io.netty.util.AttributeKey;

import dev.l4lb.core.model.Addresses;
import dev.l4lb.netty.proxyprotocol.ProxyHeaders;

/**
 * What a test backend learnt from the PROXY header in front of a connection (after Netty's
 * decoder): the client it names, the version, and the sender's unique id, for the echo page.
 *
 * @param client   the client the header names; the connection's peer for LOCAL or UNKNOWN
 * @param version  {@code v1} or {@code v2}
 * @param uniqueId PP2_TYPE_UNIQUE_ID, or null
 */
record ProxyHeaderSeen(InetSocketAddress client, String version, String uniqueId) {
    static final AttributeKey<ProxyHeaderSeen> KEY = AttributeKey.valueOf(ProxyHeaderSeen.class, "seen");

    /** The client to report: the header's, when there was one. */
    static InetSocketAddress clientOf(Channel channel) {
        ProxyHeaderSeen seen = channel.attr(KEY).get();
        return seen == null ? (InetSocketAddress) channel.remoteAddress() : seen.client();
    }

    /** Takes the decoded header off the pipeline into the channel's attribute, then steps aside. */
    static final class Recorder extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (!(msg instanceof HAProxyMessage header)) {
                ctx.fireChannelRead(msg);
                return;
            }
            try {
                ctx.channel().attr(KEY).set(seen(header, ctx.channel()));
            } finally {
                header.release();
            }
            ctx.pipeline().remove(this);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close(); // a missing or malformed header: like nginx's proxy_protocol, refuse the connection
        }

        private static ProxyHeaderSeen seen(HAProxyMessage header, Channel channel) {
            InetSocketAddress client = (InetSocketAddress) channel.remoteAddress();
            if (header.command() == HAProxyCommand.PROXY && header.proxiedProtocol() != HAProxyProxiedProtocol.UNKNOWN
                    && header.sourceAddress() != null) {
                // The decoder has checked it is an IP literal of the header's family.
                client = new InetSocketAddress(Addresses.parseIp(header.sourceAddress()).orElseThrow(), header.sourcePort());
            }
            String uniqueId = null;
            for (HAProxyTLV tlv : header.tlvs()) {
                if (tlv.typeByteValue() == ProxyHeaders.PP2_TYPE_UNIQUE_ID) {
                    uniqueId = tlv.content().toString(StandardCharsets.US_ASCII);
                }
            }
            return new ProxyHeaderSeen(client, header.protocolVersion().name().toLowerCase(Locale.ROOT), uniqueId);
        }
    }
}

package dev.l4lb.netty.proxyprotocol;

import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.haproxy.HAProxyCommand;
import io.netty.handler.codec.haproxy.HAProxyMessage;
import io.netty.handler.codec.haproxy.HAProxyMessageEncoder;
import io.netty.handler.codec.haproxy.HAProxyProtocolVersion;
import io.netty.handler.codec.haproxy.HAProxyProxiedProtocol;
import io.netty.handler.codec.haproxy.HAProxyTLV;
import org.jspecify.annotations.Nullable;

import dev.l4lb.core.model.ProxyProtocol;

/**
 * The PROXY headers l4lb sends to backends, as Netty's {@link HAProxyMessage} for its encoder to
 * put on the wire.
 */
public final class ProxyHeaders {
    /** PP2_TYPE_UNIQUE_ID from the PROXY protocol spec; Netty's TLV enum has no name for it. */
    public static final byte PP2_TYPE_UNIQUE_ID = 0x05;
    /** The spec's bound on a unique id's length. */
    public static final int MAX_UNIQUE_ID_BYTES = 128;

    private ProxyHeaders() {
    }

    /**
     * A PROXY command naming the client and the address it connected to.
     *
     * @param uniqueId for v2, the connection id to send as PP2_TYPE_UNIQUE_ID; null for none
     */
    public static HAProxyMessage proxy(ProxyProtocol version, InetSocketAddress client, InetSocketAddress destination,
                                       @Nullable String uniqueId) {
        if (version == ProxyProtocol.NONE) {
            throw new IllegalArgumentException("no PROXY header for proxyProtocol none");
        }
        InetAddress src = client.getAddress();
        InetAddress dst = destination.getAddress();
        HAProxyProxiedProtocol family;
        String srcText;
        String dstText;
        if (src instanceof Inet4Address && dst instanceof Inet4Address) {
            family = HAProxyProxiedProtocol.TCP4;
            srcText = src.getHostAddress();
            dstText = dst.getHostAddress();
        } else {
            family = HAProxyProxiedProtocol.TCP6;
            srcText = asIpv6(src);
            dstText = asIpv6(dst);
        }
        HAProxyProtocolVersion protocolVersion = version == ProxyProtocol.V1 ? HAProxyProtocolVersion.V1 : HAProxyProtocolVersion.V2;
        List<HAProxyTLV> tlvs = List.of();
        if (uniqueId != null && protocolVersion == HAProxyProtocolVersion.V2) {
            byte[] id = uniqueId.getBytes(StandardCharsets.US_ASCII);
            if (id.length > MAX_UNIQUE_ID_BYTES) {
                throw new IllegalArgumentException("unique id longer than " + MAX_UNIQUE_ID_BYTES + " bytes");
            }
            tlvs = List.of(new HAProxyTLV(PP2_TYPE_UNIQUE_ID, Unpooled.wrappedBuffer(id)));
        }
        return new HAProxyMessage(protocolVersion, HAProxyCommand.PROXY, family, srcText, dstText,
                client.getPort(), destination.getPort(), tlvs);
    }

    /**
     * The header of a connection the balancer makes on its own behalf, a health check: v2's LOCAL
     * command (the spec's case for health checks: the endpoints are the sender and the receiver),
     * v1's {@code PROXY UNKNOWN}. Encoded once, here, with Netty's encoder.
     */
    public static byte[] local(ProxyProtocol version) {
        if (version == ProxyProtocol.NONE) {
            throw new IllegalArgumentException("no PROXY header for proxyProtocol none");
        }
        if (version == ProxyProtocol.V1) {
            // Netty's v1 encoder has no UNKNOWN form; the spec's line is fixed text.
            return "PROXY UNKNOWN\r\n".getBytes(StandardCharsets.US_ASCII);
        }
        EmbeddedChannel encoder = new EmbeddedChannel(HAProxyMessageEncoder.INSTANCE);
        encoder.writeOutbound(new HAProxyMessage(HAProxyProtocolVersion.V2, HAProxyCommand.LOCAL,
                HAProxyProxiedProtocol.UNKNOWN, null, null, 0, 0));
        ByteBuf encoded = encoder.readOutbound();
        try {
            return ByteBufUtil.getBytes(encoded);
        } finally {
            encoded.release();
            encoder.finishAndReleaseAll();
        }
    }

    /**
     * v2 puts both addresses in one family: a client and a listener that differ (an IPv4 client
     * on a dual-stack [::] listener reaching an IPv6 destination) are both written as IPv6, the
     * IPv4 one IPv4-mapped. The zone of a link-local address has no place in the header.
     */
    private static String asIpv6(InetAddress address) {
        if (address instanceof Inet6Address) {
            String text = address.getHostAddress();
            int scope = text.indexOf('%');
            return scope < 0 ? text : text.substring(0, scope);
        }
        return "::ffff:" + address.getHostAddress();
    }
}

package dev.l4lb.bench;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.util.concurrent.TimeUnit;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
import io.netty.channel.DefaultChannelId;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.haproxy.HAProxyMessage;
import io.netty.handler.codec.haproxy.HAProxyMessageDecoder;
import io.netty.handler.codec.haproxy.HAProxyMessageEncoder;
import io.netty.util.ReferenceCountUtil;

import dev.l4lb.core.model.ProxyProtocol;
import dev.l4lb.netty.proxyprotocol.ProxyHeaders;

/**
 * The PROXY header a port with {@code proxyProtocol: v1|v2} sends each backend: built by
 * {@link ProxyHeaders#proxy}, encoded by {@link HAProxyMessageEncoder} into a buffer from the
 * channel's allocator (Netty's default, the pooled adaptive one, as on the data plane) and freed;
 * v1, v2 and v2 with the unique-id TLV, over IPv4 and IPv6. It is written as the data plane writes
 * it (channel write, void promise, encoder next to the head), but to a head that frees what reaches
 * it: {@code EmbeddedChannel.writeOutbound} would add an outbound queue, a flush and a promise per
 * write. {@code baseline} writes an already encoded header of the same size down the same pipeline;
 * {@code header} minus {@code baseline} is the header's own cost. Not measured: adding and removing
 * the encoder on the backend pipeline, and the inbound channel id's first {@code asLongText()}.
 * Run with {@code java -jar bench/jmh/target/benchmarks.jar ProxyHeaderBenchmark -prof gc}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class ProxyHeaderBenchmark {
    /** The headers a port can ask for. */
    public enum Header {
        V1(ProxyProtocol.V1, false), V2(ProxyProtocol.V2, false), V2_UNIQUE_ID(ProxyProtocol.V2, true);

        final ProxyProtocol version;
        final boolean uniqueId;

        Header(ProxyProtocol version, boolean uniqueId) {
            this.version = version;
            this.uniqueId = uniqueId;
        }
    }

    /** The client's and the listener's address family; v1 writes them as text, so their length matters. */
    public enum Family {
        IPV4("203.0.113.57", "198.19.0.10"), IPV6("2001:db8:85a3::8a2e:370:7334", "2001:db8:0:1::10");

        final String client;
        final String listener;

        Family(String client, String listener) {
            this.client = client;
            this.listener = listener;
        }
    }

    @Param
    Header header;

    @Param
    Family family;

    private InetSocketAddress client;
    private InetSocketAddress listener;
    /** What the data plane sends: the inbound channel's id as long text, 60 ASCII characters. */
    private String uniqueId;
    private EmbeddedChannel channel;
    /** This header encoded once, for the baseline; retained before each write so the sink never frees it. */
    private ByteBuf encoded;

    /** Stands in for the head: frees what reaches it, as the socket's outbound buffer does once it is written. */
    private static final class Sink extends ChannelOutboundHandlerAdapter {
        @Override
        public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
            ReferenceCountUtil.release(msg);
            promise.setSuccess();
        }
    }

    @Setup
    public void setUp() throws UnknownHostException {
        // Literal addresses, so no name lookup; ephemeral client port, listener on 443.
        client = new InetSocketAddress(InetAddress.getByName(family.client), 52_814);
        listener = new InetSocketAddress(InetAddress.getByName(family.listener), 443);
        uniqueId = header.uniqueId ? DefaultChannelId.newInstance().asLongText() : null;
        channel = new EmbeddedChannel(new Sink(), HAProxyMessageEncoder.INSTANCE);

        EmbeddedChannel encoder = new EmbeddedChannel(HAProxyMessageEncoder.INSTANCE);
        encoder.writeOutbound(newHeader());
        encoded = encoder.readOutbound();
        encoder.finishAndReleaseAll();
        checkDecodesBack(encoded.retainedDuplicate());
    }

    @TearDown
    public void tearDown() {
        encoded.release();
        channel.checkException(); // a write that failed on the void promise ends up here
        channel.finishAndReleaseAll();
    }

    /** Build, encode into a new buffer, free. */
    @Benchmark
    public ChannelFuture header() {
        return channel.write(newHeader(), channel.voidPromise());
    }

    /** The same pipeline with no header to build or encode: the encoder passes the bytes on. */
    @Benchmark
    public ChannelFuture baseline() {
        return channel.write(encoded.retain(), channel.voidPromise());
    }

    private HAProxyMessage newHeader() {
        return ProxyHeaders.proxy(header.version, client, listener, uniqueId);
    }

    /** Guards against measuring a header that is not the one asked for. */
    private void checkDecodesBack(ByteBuf bytes) throws UnknownHostException {
        EmbeddedChannel decoder = new EmbeddedChannel(new HAProxyMessageDecoder());
        decoder.writeInbound(bytes);
        HAProxyMessage decoded = decoder.readInbound();
        try {
            boolean same = decoded != null
                    && decoded.protocolVersion().name().equals(header.version.name())
                    && InetAddress.getByName(decoded.sourceAddress()).equals(client.getAddress())
                    && InetAddress.getByName(decoded.destinationAddress()).equals(listener.getAddress())
                    && decoded.sourcePort() == client.getPort()
                    && decoded.destinationPort() == listener.getPort()
                    && decoded.tlvs().size() == (header.uniqueId ? 1 : 0);
            if (!same) {
                throw new IllegalStateException(header + " over " + family + " decoded as " + decoded);
            }
        } finally {
            ReferenceCountUtil.release(decoded);
            decoder.finishAndReleaseAll();
        }
    }
}

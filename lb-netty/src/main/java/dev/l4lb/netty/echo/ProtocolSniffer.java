package dev.l4lb.netty.echo;

import java.nio.charset.StandardCharsets;
import java.util.List;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpServerCodec;

/**
 * Looks at the first bytes of a connection: an HTTP request line gets the HTTP echo page, anything
 * else the byte echo. Then it leaves the pipeline, handing on what it had buffered.
 */
final class ProtocolSniffer extends ByteToMessageDecoder {
    private static final String[] METHODS = {"GET ", "HEAD ", "POST ", "PUT ", "DELETE ", "OPTIONS ", "PATCH ", "TRACE "};
    private static final int MAX_REQUEST_BYTES = 1 << 20;

    private final String self;

    ProtocolSniffer(String self) {
        this.self = self;
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        Boolean http = looksLikeHttp(in);
        if (http != null) {
            choose(ctx, http);
        }
    }

    @Override
    protected void decodeLast(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        // Input ended before the bytes decided (or before any byte: a health check's FIN). The
        // byte echo answers a FIN with a FIN, so the peer's half-closed connection ends.
        Boolean http = in.isReadable() ? looksLikeHttp(in) : null;
        choose(ctx, http != null && http);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        ctx.close(); // a client that resets before saying anything
    }

    /** True or false once the bytes decide; null while they still could begin a method name. */
    private static Boolean looksLikeHttp(ByteBuf in) {
        int n = Math.min(in.readableBytes(), 8);
        String head = in.toString(in.readerIndex(), n, StandardCharsets.US_ASCII);
        boolean couldBe = false;
        for (String method : METHODS) {
            if (head.startsWith(method)) {
                return true;
            }
            if (method.startsWith(head)) {
                couldBe = true;
            }
        }
        return couldBe ? null : false;
    }

    private void choose(ChannelHandlerContext ctx, boolean http) {
        ChannelPipeline pipeline = ctx.pipeline();
        if (http) {
            pipeline.addAfter(ctx.name(), "http", new HttpServerCodec());
            pipeline.addAfter("http", "aggregate", new HttpObjectAggregator(MAX_REQUEST_BYTES));
            pipeline.addAfter("aggregate", "echo", new HttpEchoHandler(self));
        } else {
            pipeline.addAfter(ctx.name(), "echo", new ByteEchoHandler());
        }
        pipeline.remove(this);
    }
}

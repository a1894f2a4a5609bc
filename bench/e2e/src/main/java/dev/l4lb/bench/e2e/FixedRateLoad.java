package dev.l4lb.bench.e2e;

import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.HttpResponseDecoder;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.LastHttpContent;
import org.HdrHistogram.Histogram;

import dev.l4lb.core.model.Addresses;
import dev.l4lb.netty.transport.Transport;

/**
 * An open-loop HTTP/1.1 load generator: requests are due at a fixed rate over keep-alive
 * connections, and each latency is measured from when the request was <em>due</em>, not from when
 * it could be sent. A stalled path therefore shows its stall in every request queued behind it
 * (coordinated-omission correction, as in wrk2), so the percentiles are honest. One event loop
 * drives every connection, so the generator itself needs little CPU.
 *
 * <p>{@code FixedRateLoad HOST:PORT RATE CONNECTIONS SECONDS [WARMUP_SECONDS]} prints one JSON
 * object: achieved rate, errors, percentiles in ms and the HdrHistogram (microseconds,
 * compressed, base64).
 */
public final class FixedRateLoad {
    private static final long HIGHEST_MICROS = TimeUnit.SECONDS.toMicros(60);
    private static final ByteBuf REQUEST = Unpooled.unreleasableBuffer(Unpooled.copiedBuffer(
            "GET / HTTP/1.1\r\nHost: bench\r\n\r\n", java.nio.charset.StandardCharsets.US_ASCII));

    private FixedRateLoad() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length < 4) {
            System.err.println("usage: FixedRateLoad HOST:PORT RATE CONNECTIONS SECONDS [WARMUP_SECONDS]");
            System.exit(2);
        }
        InetSocketAddress target = Addresses.parseHostPort(args[0])
                .orElseThrow(() -> new IllegalArgumentException("not HOST:PORT: " + args[0]));
        double rate = Double.parseDouble(args[1]);
        int connections = Integer.parseInt(args[2]);
        long seconds = Long.parseLong(args[3]);
        long warmup = args.length > 4 ? Long.parseLong(args[4]) : 2;

        Transport transport = Transport.select("auto");
        MultiThreadIoEventLoopGroup group = transport.newGroup(1, "load");
        try {
            long interval = (long) (connections * 1e9 / rate);
            long start = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(500);
            long measureFrom = start + TimeUnit.SECONDS.toNanos(warmup);
            long end = measureFrom + TimeUnit.SECONDS.toNanos(seconds);
            CountDownLatch done = new CountDownLatch(connections);
            List<Connection> all = new ArrayList<>();
            EventLoop loop = group.next();
            for (int i = 0; i < connections; i++) {
                // Stagger the connections over one interval, so the total load is smooth.
                Connection c = new Connection(target, transport, loop, start + interval * i / connections, interval,
                        measureFrom, end, done);
                all.add(c);
                loop.execute(c::connect);
            }
            if (!done.await(seconds + warmup + 60, TimeUnit.SECONDS)) {
                throw new IllegalStateException("the load did not finish");
            }
            Histogram histogram = new Histogram(HIGHEST_MICROS, 3);
            long errors = 0;
            for (Connection c : all) {
                histogram.add(c.histogram);
                errors += c.errors;
            }
            System.out.println(json(rate, histogram.getTotalCount() / (double) seconds, errors, histogram));
        } finally {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        }
    }

    private static String json(double rate, double achieved, long errors, Histogram h) {
        ByteBuffer encoded = ByteBuffer.allocate(h.getNeededByteBufferCapacity());
        h.encodeIntoCompressedByteBuffer(encoded);
        encoded.flip();
        byte[] bytes = new byte[encoded.remaining()];
        encoded.get(bytes);
        return String.format(Locale.ROOT,
                "{\"rate\":%.1f,\"value\":%.1f,\"errors\":%d,\"p50_ms\":%.3f,\"p90_ms\":%.3f,\"p99_ms\":%.3f,"
                        + "\"p999_ms\":%.3f,\"max_ms\":%.3f,\"histogram\":\"%s\"}",
                rate, achieved, errors, ms(h, 50), ms(h, 90), ms(h, 99), ms(h, 99.9), h.getMaxValue() / 1000.0,
                Base64.getEncoder().encodeToString(bytes));
    }

    private static double ms(Histogram histogram, double percentile) {
        return histogram.getValueAtPercentile(percentile) / 1000.0;
    }

    /**
     * One keep-alive connection sending its share of the requests, each when it is due or, if the
     * previous answer came late, as soon as that answer is in.
     */
    @io.netty.channel.ChannelHandler.Sharable // one pipeline at a time; re-added after a reconnect
    private static final class Connection extends SimpleChannelInboundHandler<HttpObject> {
        final Histogram histogram = new Histogram(HIGHEST_MICROS, 3);
        long errors;
        private final InetSocketAddress target;
        private final Transport transport;
        private final EventLoop loop;
        private final long interval;
        private final long measureFrom;
        private final long end;
        private final CountDownLatch done;
        private long due;
        private boolean ok;
        private Channel channel;

        Connection(InetSocketAddress target, Transport transport, EventLoop loop, long first, long interval,
                   long measureFrom, long end, CountDownLatch done) {
            this.target = target;
            this.transport = transport;
            this.loop = loop;
            this.due = first;
            this.interval = interval;
            this.measureFrom = measureFrom;
            this.end = end;
            this.done = done;
        }

        void connect() {
            new Bootstrap().group(loop).channel(transport.socketChannel())
                    .option(ChannelOption.TCP_NODELAY, true)
                    .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, 5000)
                    .handler(new ChannelInitializer<>() {
                        @Override
                        protected void initChannel(Channel ch) {
                            ch.pipeline().addLast(new HttpResponseDecoder(), Connection.this); // requests go out as ready bytes
                        }
                    })
                    .connect(target).addListener(f -> {
                        if (f.isSuccess()) {
                            channel = ((io.netty.channel.ChannelFuture) f).channel();
                            channel.closeFuture().addListener(closed -> lost());
                            sendWhenDue();
                        } else {
                            failed();
                        }
                    });
        }

        private void sendWhenDue() {
            if (due >= end) {
                finish();
                return;
            }
            long wait = due - System.nanoTime();
            if (wait > 0) {
                loop.schedule(this::send, wait, TimeUnit.NANOSECONDS);
            } else {
                send();
            }
        }

        private void send() {
            ok = false;
            channel.writeAndFlush(REQUEST.duplicate());
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, HttpObject msg) {
            if (msg instanceof HttpResponse response) {
                ok = response.status().codeClass() == io.netty.handler.codec.http.HttpStatusClass.SUCCESS;
            }
            if (msg instanceof LastHttpContent) {
                if (due >= measureFrom) {
                    if (ok) {
                        long micros = (System.nanoTime() - due) / 1000;
                        histogram.recordValue(Math.min(Math.max(micros, 1), HIGHEST_MICROS));
                    } else {
                        errors++;
                    }
                }
                due += interval;
                sendWhenDue();
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }

        /** The connection broke: count the request it carried and start again. */
        private void lost() {
            if (due >= end || done.getCount() == 0) {
                return;
            }
            failed();
        }

        private void failed() {
            if (due >= measureFrom) {
                errors++;
            }
            due += interval;
            if (due >= end) {
                finish();
            } else {
                loop.schedule(this::connect, 10, TimeUnit.MILLISECONDS);
            }
        }

        private boolean finished;

        private void finish() {
            if (!finished) {
                finished = true;
                if (channel != null) {
                    channel.close();
                }
                done.countDown();
            }
        }
    }
}

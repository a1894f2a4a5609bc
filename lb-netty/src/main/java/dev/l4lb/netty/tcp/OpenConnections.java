package dev.l4lb.netty.tcp;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.EventLoopGroup;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;

/**
 * The client connections open now, one set per event loop, touched only by that loop: so that
 * the connections still open when a shutdown's grace period ends can be closed while the loops
 * still run. Left to the loops' own shutdown, an io_uring socket with operations in flight was
 * closed only when they completed, which a stopped ring never saw: its client waited for a FIN
 * that did not come (BalancerLifecycleTest, about every other run on io_uring).
 */
final class OpenConnections {
    private final Map<EventExecutor, Set<Channel>> byLoop = new IdentityHashMap<>();

    OpenConnections(EventLoopGroup loops) {
        for (EventExecutor loop : loops) {
            byLoop.put(loop, new HashSet<>());
        }
    }

    /** On the channel's event loop. */
    void opened(Channel client) {
        byLoop.get(client.eventLoop()).add(client);
    }

    /** On the channel's event loop. */
    void closed(Channel client) {
        byLoop.get(client.eventLoop()).remove(client);
    }

    /**
     * Closes every connection still open, each on its own loop, and waits up to {@code timeoutMillis}
     * for them to be closed (their relays close the endpoints' sides in turn).
     */
    void closeAll(long timeoutMillis) {
        List<Future<List<ChannelFuture>>> closing = new ArrayList<>();
        for (Map.Entry<EventExecutor, Set<Channel>> loop : byLoop.entrySet()) {
            if (!loop.getKey().isShuttingDown()) {
                closing.add(loop.getKey().submit(() -> {
                    List<ChannelFuture> closed = new ArrayList<>();
                    for (Channel client : List.copyOf(loop.getValue())) {
                        closed.add(client.close());
                    }
                    return closed;
                }));
            }
        }
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
        for (Future<List<ChannelFuture>> loop : closing) {
            if (!loop.awaitUninterruptibly(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS)
                    || !loop.isSuccess()) {
                continue;
            }
            for (ChannelFuture closed : loop.getNow()) {
                closed.awaitUninterruptibly(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
            }
        }
    }
}

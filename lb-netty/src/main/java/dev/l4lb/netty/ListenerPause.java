package dev.l4lb.netty;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;

import io.netty.channel.Channel;
import io.netty.channel.EventLoop;
import io.netty.channel.uring.IoUringServerSocketChannel;

/**
 * Stops and restarts accepting on listener sockets, for any number of reasons at once (the
 * descriptor budget, a failed accept): a listener accepts again when every pause on it has been
 * lifted. Turning autoRead off stops epoll and NIO at once, but not io_uring: Netty 4.2.18 keeps a
 * multishot accept armed in the kernel, which goes on taking connections in (and re-arms a failed
 * one at once, whatever autoRead says). An io_uring listener is therefore taken off its ring
 * while paused, and registered again to resume. One per data plane; safe from any thread.
 */
public final class ListenerPause {
    private record Paused(int count, EventLoop loop) {
    }

    private final ConcurrentMap<Channel, Paused> paused = new ConcurrentHashMap<>();

    /** Adds a pause to {@code listener}; the first stops its accepting. */
    public void pause(Channel listener) {
        Paused now = paused.compute(listener, (ch, p) -> p == null ? new Paused(1, ch.eventLoop()) : new Paused(p.count() + 1, p.loop()));
        if (now.count() == 1) {
            if (listener instanceof IoUringServerSocketChannel) {
                listener.deregister();
            } else {
                listener.config().setAutoRead(false);
            }
        }
    }

    /** Lifts a pause from {@code listener}; the last lets it accept again, if it is still open. */
    public void resume(Channel listener) {
        Paused[] lifted = new Paused[1];
        paused.computeIfPresent(listener, (ch, p) -> {
            if (p.count() > 1) {
                return new Paused(p.count() - 1, p.loop());
            }
            lifted[0] = p;
            return null;
        });
        if (lifted[0] == null || !listener.isOpen()) {
            return;
        }
        if (listener instanceof IoUringServerSocketChannel) {
            EventLoop loop = lifted[0].loop();
            // After the deregistration has run: both are tasks on that loop, in order.
            loop.execute(() -> {
                if (listener.isOpen() && !listener.isRegistered()) {
                    loop.register(listener); // active, autoRead on: accepting resumes
                }
            });
        } else {
            listener.config().setAutoRead(true);
        }
    }
}

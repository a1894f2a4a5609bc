package dev.l4lb.netty.transport;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;

import io.netty.channel.Channel;
import io.netty.channel.EventLoop;
import io.netty.channel.uring.IoUring;
import io.netty.channel.uring.IoUringServerSocketChannel;

/**
 * Stops and restarts accepting on listener sockets, for any number of reasons at once (the
 * descriptor budget, a failed accept): a listener accepts again when every pause on it has been
 * lifted. Turning autoRead off stops epoll, NIO and io_uring's single-shot accepts (l4lb's
 * default, {@link Transport}) at once, but not a multishot accept, which Netty 4.2.18 keeps armed
 * in the kernel (and re-arms at once when it fails, whatever autoRead says): with multishot
 * accepts turned back on, an io_uring listener is taken off its ring while paused, and registered
 * again to resume (which did not always stop it: Transport says why multishot is off). One per
 * data plane; safe from any thread.
 */
public final class ListenerPause {
    private record Paused(int count, EventLoop loop) {
    }

    private final ConcurrentMap<Channel, Paused> paused = new ConcurrentHashMap<>();

    /** Adds a pause to {@code listener}; the first stops its accepting. */
    public void pause(Channel listener) {
        Paused now = paused.compute(listener, (ch, p) -> p == null ? new Paused(1, ch.eventLoop()) : new Paused(p.count() + 1, p.loop()));
        if (now.count() == 1) {
            if (listener instanceof IoUringServerSocketChannel && IoUring.isAcceptMultishotEnabled()) {
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
        if (listener instanceof IoUringServerSocketChannel && IoUring.isAcceptMultishotEnabled()) {
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

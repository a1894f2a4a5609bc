package dev.l4lb.netty.transport;

import java.net.InetSocketAddress;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.l4lb.core.model.Addresses;

/**
 * What a listener does when accept(2) fails, which it does above all when the process (or the
 * system) has run out of file descriptors: the queue of connections waiting to be accepted cannot
 * shrink until some close. Left to Netty, the failure reaches the end of the listener's pipeline
 * and is logged as a WARN with a stack trace each time, with no count, and {@code ServerBootstrap}
 * stops accepting for a whole second. Here each failure is counted by reason, logged at most once
 * per {@link #LOG_INTERVAL_SECONDS} with how many there were since, and the listener pauses for
 * {@link #PAUSE_MILLIS} ({@link ListenerPause}): long enough that no transport spins on a queue it cannot take from,
 * short enough that accepting resumes within that of descriptors coming free. Put first in each
 * listener's pipeline; shared by a protocol's or a server's listeners.
 */
@ChannelHandler.Sharable
public final class AcceptErrors extends ChannelInboundHandlerAdapter {
    private static final Logger LOG = LoggerFactory.getLogger(AcceptErrors.class);
    static final long PAUSE_MILLIS = 50;
    static final long LOG_INTERVAL_SECONDS = 10;

    /** Why an accept failed, for counting. */
    public enum Reason {
        /** EMFILE or ENFILE: the process's or the system's file descriptors are all in use. */
        FD_LIMIT,
        /** Anything else (out of memory for the socket, a connection aborted while queued...). */
        OTHER;

        /** The name metrics use: {@code fd_limit}. */
        public String label() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    private final String owner;
    private final LongAdder[] counts = {new LongAdder(), new LongAdder()};
    private final AtomicLong nextLogNanos = new AtomicLong(System.nanoTime());
    private final AtomicLong unreported = new AtomicLong();
    private final ListenerPause pause;
    private final Set<Channel> pausedHere = ConcurrentHashMap.newKeySet();

    /**
     * @param owner who listens, for the log: "TCP listener", "admin"
     * @param pause how its listeners are paused, shared with whatever else pauses them
     */
    public AcceptErrors(String owner, ListenerPause pause) {
        this.owner = owner;
        this.pause = pause;
    }

    /** Accepts that failed for {@code reason} since the start. */
    public long count(Reason reason) {
        return counts[reason.ordinal()].sum();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        Channel listener = ctx.channel(); // a listener: its only I/O is accepting
        Reason reason = String.valueOf(cause.getMessage()).contains("Too many open files") ? Reason.FD_LIMIT : Reason.OTHER;
        counts[reason.ordinal()].increment();
        unreported.incrementAndGet();
        long now = System.nanoTime();
        long next = nextLogNanos.get();
        if (now - next >= 0 && nextLogNanos.compareAndSet(next, now + TimeUnit.SECONDS.toNanos(LOG_INTERVAL_SECONDS))) {
            LOG.warn("{} {} cannot accept connections: {} ({} failed accept(s) since the last report; reported at most every"
                            + " {} s){}; accepting pauses {} ms at a time until it works again", owner,
                    listener.localAddress() instanceof InetSocketAddress a ? Addresses.format(a) : listener.localAddress(),
                    cause.getMessage(), unreported.getAndSet(0), LOG_INTERVAL_SECONDS,
                    reason == Reason.FD_LIMIT ? ": every file descriptor the process may open is in use (ulimit -n)" : "",
                    PAUSE_MILLIS);
        }
        if (pausedHere.add(listener)) { // one pause at a time per listener, however many failures come meanwhile
            pause.pause(listener);
            ctx.executor().schedule(() -> {
                pausedHere.remove(listener);
                pause.resume(listener);
            }, PAUSE_MILLIS, TimeUnit.MILLISECONDS);
        }
    }
}

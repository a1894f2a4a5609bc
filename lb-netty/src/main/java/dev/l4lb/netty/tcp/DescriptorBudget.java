package dev.l4lb.netty.tcp;

import java.lang.management.ManagementFactory;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Supplier;

import com.sun.management.UnixOperatingSystemMXBean;
import io.netty.channel.Channel;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.l4lb.netty.transport.ListenerPause;

/**
 * Keeps the TCP listeners from taking in connections the process has no file descriptors for, as
 * HAProxy derives its maxconn from {@code ulimit -n}. A proxied connection holds two descriptors
 * (the client's and the backend's); once the connections open would leave fewer than a reserve
 * (for the JVM, the admin server, UDP sessions), every listener stops accepting and the kernel
 * keeps the newcomers in the listen queue ({@link ListenerPause}); when a tenth of them have
 * closed, accepting resumes.
 * Without it accept(2) fails with EMFILE at the limit, and on io_uring a failed multishot accept
 * is re-armed at once by Netty, whether or not the channel still wants to read: a busy loop.
 */
public final class DescriptorBudget {
    private static final Logger LOG = LoggerFactory.getLogger(DescriptorBudget.class);
    private static final long LOG_INTERVAL_NANOS = TimeUnit.SECONDS.toNanos(10);

    private final int max;
    private final int resumeAt;
    private final Supplier<List<Channel>> listeners;
    private final AtomicInteger open = new AtomicInteger();
    private final AtomicBoolean paused = new AtomicBoolean();
    private final ListenerPause pause;
    private final LongAdder pauses = new LongAdder();
    private final AtomicLong nextLogNanos = new AtomicLong(System.nanoTime());

    /** @param max connections at most; {@code listeners} the sockets to pause and resume, with {@code pause} */
    public DescriptorBudget(int max, Supplier<List<Channel>> listeners, ListenerPause pause) {
        this.max = max;
        this.pause = pause;
        this.resumeAt = max - Math.max(1, max / 10);
        this.listeners = listeners;
    }

    /** The budget this process's descriptor limit allows: (limit - reserve) / 2 connections. */
    static DescriptorBudget ofThisProcess(Supplier<List<Channel>> listeners, ListenerPause pause) {
        long limit = ManagementFactory.getOperatingSystemMXBean() instanceof UnixOperatingSystemMXBean unix
                ? unix.getMaxFileDescriptorCount() : Integer.MAX_VALUE;
        long reserve = Math.max(512, limit / 10); // the JVM's own, io_uring's rings, the admin server, UDP sessions
        return new DescriptorBudget((int) Math.max(16, Math.min(Integer.MAX_VALUE, (limit - reserve) / 2)), listeners, pause);
    }

    /** A connection was accepted; the one that fills the budget pauses the listeners. */
    void opened() {
        if (open.incrementAndGet() >= max && paused.compareAndSet(false, true)) {
            pauses.increment();
            listeners.get().forEach(pause::pause);
            long now = System.nanoTime();
            long next = nextLogNanos.get();
            if (now - next >= 0 && nextLogNanos.compareAndSet(next, now + LOG_INTERVAL_NANOS)) {
                LOG.warn("{} TCP connections open: as many as the process's file descriptor limit (ulimit -n) allows;"
                        + " new ones wait in the listen queue until {} remain ({} pause(s) so far; reported at most every"
                        + " 10 s)", max, resumeAt, pauses.sum());
            }
        }
    }

    /** An accepted connection has closed; when enough have, the listeners resume. */
    void closed() {
        if (open.decrementAndGet() <= resumeAt && paused.compareAndSet(true, false)) {
            listeners.get().forEach(pause::resume);
        }
    }

    /** Accepted TCP connections open now. */
    public int open() {
        return open.get();
    }

    /** Connections at most at once. */
    public int max() {
        return max;
    }

    /** Times the listeners paused for the budget. */
    public long pauses() {
        return pauses.sum();
    }
}

package dev.l4lb.netty.log;

import java.io.PrintStream;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Function;

import org.jspecify.annotations.Nullable;

/**
 * The optional connection log: one line per closed connection, formatted and written by a
 * thread of its own so that the event loops never wait on a disk or a terminal. The event loops
 * only append to a bounded lock-free queue; when the writer falls behind by {@code capacity}
 * lines, further lines are dropped and counted rather than slowing the data plane.
 */
public final class ConnectionLog implements AutoCloseable {
    /** How each line is written. */
    public enum Format {
        TEXT(ClosedConnection::text),
        JSON(ClosedConnection::json);

        private final Function<ClosedConnection, String> render;

        Format(Function<ClosedConnection, String> render) {
            this.render = render;
        }
    }

    private static final ConnectionLog OFF = new ConnectionLog();

    /** Null, as the three below, for the log that is {@link #off()}. */
    private final @Nullable Queue<ClosedConnection> queue;
    private final AtomicInteger queued = new AtomicInteger();
    private final LongAdder dropped = new LongAdder();
    private final int capacity;
    private final @Nullable Format format;
    private final @Nullable PrintStream out;
    private final @Nullable Thread writer;
    private volatile boolean closing;

    private ConnectionLog() {
        this.queue = null;
        this.capacity = 0;
        this.format = null;
        this.out = null;
        this.writer = null;
    }

    private ConnectionLog(Format format, PrintStream out, int capacity) {
        this.queue = new ConcurrentLinkedQueue<>();
        this.capacity = capacity;
        this.format = format;
        this.out = out;
        this.writer = new Thread(this::drain, "l4lb-connection-log");
        this.writer.setDaemon(true);
    }

    /** No log: {@link #enabled()} is false and the data plane skips it entirely. */
    public static ConnectionLog off() {
        return OFF;
    }

    /** Starts a log writing {@code format} lines to {@code out}, holding at most {@code capacity} unwritten. */
    public static ConnectionLog start(Format format, PrintStream out, int capacity) {
        if (capacity <= 0) {
            throw new IllegalArgumentException("capacity must be positive: " + capacity);
        }
        ConnectionLog log = new ConnectionLog(format, out, capacity);
        log.writer.start();
        return log;
    }

    public boolean enabled() {
        return writer != null;
    }

    /** Queues a line; never blocks. */
    public void add(ClosedConnection connection) {
        if (writer == null) {
            return;
        }
        if (queued.incrementAndGet() > capacity) {
            queued.decrementAndGet();
            dropped.increment();
            return;
        }
        queue.add(connection);
    }

    /** Lines dropped because the writer was {@code capacity} lines behind. */
    public long dropped() {
        return dropped.sum();
    }

    /** Writes what is queued, then stops the writer. */
    @Override
    public void close() {
        if (writer == null) {
            return;
        }
        closing = true;
        LockSupport.unpark(writer);
        try {
            writer.join(TimeUnit.SECONDS.toMillis(5));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (out == System.out) {
            out.flush();
        } else {
            out.close(); // a file this log was opened on
        }
    }

    private void drain() {
        while (true) {
            boolean wrote = false;
            ClosedConnection next;
            while ((next = queue.poll()) != null) {
                queued.decrementAndGet();
                out.println(format.render.apply(next));
                wrote = true;
            }
            if (wrote) {
                out.flush();
            }
            if (closing) {
                return;
            }
            // Polling keeps add() free of any hand-off to this thread; 20 ms is far below what
            // anyone reading a log notices.
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(20));
        }
    }
}

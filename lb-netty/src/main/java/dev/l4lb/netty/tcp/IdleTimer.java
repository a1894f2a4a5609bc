package dev.l4lb.netty.tcp;

import java.util.concurrent.TimeUnit;

import io.netty.channel.Channel;
import io.netty.util.concurrent.ScheduledFuture;

import dev.l4lb.core.table.Outcome;
import dev.l4lb.core.table.PortCounters;

/**
 * Closes a relayed connection that has carried no bytes either way for the port's idleTimeout.
 * One timer per connection, re-armed for the time that is left; a read only stores the time.
 * (Netty's IdleStateHandler would allocate a promise and a listener on every write.)
 */
final class IdleTimer implements Runnable {
    private final Channel client;
    private final Channel backend;
    private final long timeoutNanos;
    private final PortCounters counters;
    /** Written by both sides' relay handlers: both channels live on this one event loop. */
    private long lastActivity;
    private ScheduledFuture<?> pending;
    private boolean expired;

    IdleTimer(Channel client, Channel backend, long timeoutNanos, PortCounters counters) {
        this.client = client;
        this.backend = backend;
        this.timeoutNanos = timeoutNanos;
        this.counters = counters;
    }

    /** Arms the timer; it stops by itself when the client side closes. */
    void start() {
        lastActivity = System.nanoTime();
        arm(timeoutNanos);
        client.closeFuture().addListener(f -> pending.cancel(false));
    }

    /** Bytes moved: the connection is not idle. */
    void touch() {
        lastActivity = System.nanoTime();
    }

    @Override
    public void run() {
        if (!client.isActive()) {
            return;
        }
        long idle = System.nanoTime() - lastActivity;
        if (idle >= timeoutNanos) {
            counters.record(Outcome.IDLE_TIMEOUT);
            expired = true;
            client.close();
            backend.close();
        } else {
            arm(timeoutNanos - idle);
        }
    }

    /** Did this timer close the connection? */
    boolean expired() {
        return expired;
    }

    private void arm(long delayNanos) {
        pending = client.eventLoop().schedule(this, delayNanos, TimeUnit.NANOSECONDS);
    }
}

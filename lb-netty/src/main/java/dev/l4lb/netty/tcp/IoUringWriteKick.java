package dev.l4lb.netty.tcp;

import java.util.concurrent.TimeUnit;

import io.netty.channel.Channel;
import io.netty.channel.ChannelOutboundBuffer;
import io.netty.channel.IoHandle;
import io.netty.channel.IoOps;
import io.netty.channel.IoRegistration;
import io.netty.channel.socket.DuplexChannel;
import io.netty.channel.uring.IoUringIoEvent;
import io.netty.channel.uring.IoUringSocketChannel;
import io.netty.util.Attribute;
import io.netty.util.AttributeKey;

/**
 * Keeps writes going to an io_uring socket whose peer has sent its FIN, which Netty 4.2.18
 * would otherwise stop writing to for good. When such a socket's buffer is full, Netty waits
 * for it to drain with a POLLOUT poll; the kernel ends every io_uring poll on a socket in that
 * state at once with POLLRDHUP (io_uring always reports it), and Netty, which tells its polls
 * apart by the events reported, takes the answer for its end-of-input poll and goes on waiting
 * for a POLLOUT that has already been spent. Seen with perf's io_uring tracepoints: POLL_ADD
 * for POLLOUT completing in 1 µs with 0x2000; IoUringHalfCloseTest shows it with Netty alone.
 *
 * <p>While writes stay pending on such a channel, this checks every few milliseconds and, when
 * nothing moved, hands the channel the POLLOUT it missed: Netty clears its wait and writes
 * again (a write the socket cannot take yet comes back to the same state, so this is a poll, 1
 * ms at first and backing off to 16 ms). It runs only for a half-closed peer with bytes queued
 * to it, never on a connection's ordinary path, and stops when the queue empties or the channel
 * closes.
 */
final class IoUringWriteKick implements Runnable {
    /** Kernel ABI: IORING_OP_POLL_ADD and POLLOUT (Netty keeps its copies package-private). */
    private static final byte IORING_OP_POLL_ADD = 6;
    private static final int POLLOUT = 0x4;
    private static final long FIRST_DELAY_NANOS = TimeUnit.MILLISECONDS.toNanos(1);
    private static final long MAX_DELAY_NANOS = TimeUnit.MILLISECONDS.toNanos(16);
    /** Netty cancels the registration it is given only once the channel is closed and idle, which a kick never sees. */
    private static final IoRegistration UNUSED = new IoRegistration() {
        @Override
        public <T> T attachment() {
            return null;
        }

        @Override
        public long submit(IoOps ops) {
            return 0;
        }

        @Override
        public boolean isValid() {
            return false;
        }

        @Override
        public boolean cancel() {
            return false;
        }
    };

    /** One per channel, made when first needed, whichever side's handler writes or sees the FIN. */
    private static final AttributeKey<IoUringWriteKick> KICK = AttributeKey.valueOf(IoUringWriteKick.class, "kick");

    private final Channel channel;
    private long delayNanos = FIRST_DELAY_NANOS;
    private long lastPending = -1;
    private boolean running;

    private IoUringWriteKick(Channel channel) {
        this.channel = channel;
    }

    /**
     * Watches writes to {@code channel} when it can end up waiting for nothing: an io_uring
     * socket whose input has ended. Call on its event loop after writing to it, and when its input
     * ends with writes still queued (a POLLOUT poll armed before the FIN came is spent by it too).
     */
    static void watch(Channel channel) {
        if (channel instanceof IoUringSocketChannel socket && socket.isInputShutdown()) {
            Attribute<IoUringWriteKick> attribute = channel.attr(KICK);
            IoUringWriteKick kick = attribute.get();
            if (kick == null) {
                kick = new IoUringWriteKick(channel);
                attribute.set(kick);
            }
            kick.watch();
        }
    }

    /** Starts watching, unless already watching. */
    private void watch() {
        if (!running && pending(channel) > 0) {
            running = true;
            delayNanos = FIRST_DELAY_NANOS;
            lastPending = -1;
            channel.eventLoop().schedule(this, delayNanos, TimeUnit.NANOSECONDS);
        }
    }

    @Override
    public void run() {
        long pending = pending(channel);
        if (!channel.isActive() || pending == 0 || (channel instanceof DuplexChannel duplex && duplex.isOutputShutdown())) {
            running = false;
            return;
        }
        if (pending == lastPending) {
            ((IoHandle) channel.unsafe()).handle(UNUSED, new IoUringIoEvent(POLLOUT, 0, IORING_OP_POLL_ADD, (short) 0));
            delayNanos = Math.min(MAX_DELAY_NANOS, delayNanos * 2);
        } else {
            delayNanos = FIRST_DELAY_NANOS;
        }
        lastPending = pending(channel);
        channel.eventLoop().schedule(this, delayNanos, TimeUnit.NANOSECONDS);
    }

    private static long pending(Channel channel) {
        ChannelOutboundBuffer queued = channel.unsafe().outboundBuffer();
        return queued == null ? 0 : queued.totalPendingWriteBytes();
    }
}

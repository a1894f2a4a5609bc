package dev.l4lb.netty.tcp;

import java.io.IOException;

import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.socket.DuplexChannel;
import io.netty.channel.unix.Socket;
import io.netty.channel.unix.UnixChannel;

/**
 * Sends a FIN on a relayed socket whose pending writes are all written: shutdown(SHUT_WR).
 *
 * <p>On the native transports the channel's own socket is shut directly. Netty's
 * {@code shutdownOutput()} would do the same syscall, but first builds a
 * {@code ChannelOutputShutdownException}, stack trace and all, to fail pending writes there are
 * none of here: one such exception per closed connection was 2.7% of the balancer's CPU on the
 * bench's new-connection test (async-profiler, io_uring). The channel reads its output state
 * from the same socket, so {@code isOutputShutdown()} stays true to it. NIO goes through Netty.
 */
final class OutputShutdown {
    private OutputShutdown() {
    }

    /**
     * Shuts {@code channel}'s output, which must have nothing pending. Call on its event loop.
     *
     * @return false when it failed (the socket is broken: close the connection)
     */
    static boolean shut(Channel channel) {
        if (channel instanceof UnixChannel unix && unix.fd() instanceof Socket socket) {
            try {
                socket.shutdown(false, true);
                return true;
            } catch (IOException | RuntimeException e) {
                return false;
            }
        }
        if (channel instanceof DuplexChannel duplex) {
            ChannelFuture shut = duplex.shutdownOutput(); // done on return: we are on its event loop
            return !shut.isDone() || shut.isSuccess();
        }
        return false;
    }

    /** Has {@code channel}'s output been shut (by {@link #shut} or by Netty: both set the same socket's state)? */
    static boolean isShut(Channel channel) {
        return channel instanceof DuplexChannel duplex && duplex.isOutputShutdown();
    }
}

package dev.l4lb.netty;

import java.util.Locale;

import io.netty.channel.Channel;
import io.netty.channel.ChannelOption;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollChannelOption;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.channel.uring.IoUring;
import io.netty.channel.uring.IoUringChannelOption;
import io.netty.channel.uring.IoUringIoHandler;
import io.netty.channel.uring.IoUringServerSocketChannel;
import io.netty.channel.uring.IoUringSocketChannel;
import io.netty.util.concurrent.DefaultThreadFactory;

/**
 * The I/O transport of the data plane: io_uring where the kernel allows it, else Linux epoll,
 * else Java NIO as the portable fallback. Chosen once at start and reported.
 *
 * <p>Why io_uring before epoll: Netty 4.2.18's epoll drops a socket from the epoll set once its
 * input is shut and it has nothing left to wait for, then fails the next wait for writability
 * (EPOLL_CTL_MOD: ENOENT). A relay that passes a client's FIN on and then streams a reply larger
 * than the socket buffers to that client loses the tail of the reply. io_uring and NIO relay it
 * whole (TcpRelayTest). epoll stays selectable, and is the choice where io_uring is off.
 */
public enum Transport {
    EPOLL("epoll"),
    IO_URING("io_uring"),
    NIO("nio");

    private final String displayName;

    Transport(String displayName) {
        this.displayName = displayName;
    }

    /**
     * {@code auto} (io_uring when available, else epoll, else NIO) or a transport by name.
     *
     * @throws IllegalArgumentException when the name is unknown or that transport cannot run
     *                                  here, with the reason
     */
    public static Transport select(String requested) {
        String name = requested.toLowerCase(Locale.ROOT);
        switch (name) {
            case "auto":
                return IoUring.isAvailable() ? IO_URING : Epoll.isAvailable() ? EPOLL : NIO;
            case "epoll":
                if (!Epoll.isAvailable()) {
                    throw new IllegalArgumentException("epoll is not available here: " + Epoll.unavailabilityCause());
                }
                return EPOLL;
            case "io_uring":
            case "iouring":
                if (!IoUring.isAvailable()) {
                    throw new IllegalArgumentException("io_uring is not available here: " + IoUring.unavailabilityCause());
                }
                return IO_URING;
            case "nio":
                return NIO;
            default:
                throw new IllegalArgumentException("unknown transport '" + requested + "' (known: auto, epoll, io_uring, nio)");
        }
    }

    public String displayName() {
        return displayName;
    }

    /** An event-loop group of {@code threads} loops for this transport. */
    public MultiThreadIoEventLoopGroup newGroup(int threads, String threadPrefix) {
        return new MultiThreadIoEventLoopGroup(threads, new DefaultThreadFactory(threadPrefix, true), ioHandlerFactory());
    }

    private IoHandlerFactory ioHandlerFactory() {
        return switch (this) {
            case EPOLL -> EpollIoHandler.newFactory();
            case IO_URING -> IoUringIoHandler.newFactory();
            case NIO -> NioIoHandler.newFactory();
        };
    }

    public Class<? extends ServerChannel> serverSocketChannel() {
        return switch (this) {
            case EPOLL -> EpollServerSocketChannel.class;
            case IO_URING -> IoUringServerSocketChannel.class;
            case NIO -> NioServerSocketChannel.class;
        };
    }

    public Class<? extends Channel> socketChannel() {
        return switch (this) {
            case EPOLL -> EpollSocketChannel.class;
            case IO_URING -> IoUringSocketChannel.class;
            case NIO -> NioSocketChannel.class;
        };
    }

    /**
     * SO_REUSEPORT, when this transport can set it: then each listener is bound once per event
     * loop and the kernel spreads accepts over the loops. Null on NIO, where one socket serves.
     */
    public ChannelOption<Boolean> reusePortOption() {
        return switch (this) {
            case EPOLL -> EpollChannelOption.SO_REUSEPORT;
            case IO_URING -> IoUringChannelOption.SO_REUSEPORT;
            case NIO -> null;
        };
    }
}

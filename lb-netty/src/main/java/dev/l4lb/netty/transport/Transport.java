package dev.l4lb.netty.transport;

import java.net.Inet6Address;
import java.net.InetSocketAddress;
import java.nio.channels.spi.SelectorProvider;
import java.util.Locale;
import java.util.function.BiConsumer;

import io.netty.channel.Channel;
import io.netty.channel.ChannelConfig;
import io.netty.channel.ChannelOption;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollChannelOption;
import io.netty.channel.epoll.EpollDatagramChannel;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.DatagramChannel;
import io.netty.channel.socket.SocketProtocolFamily;
import io.netty.channel.socket.nio.NioDatagramChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.channel.unix.IntegerUnixChannelOption;
import io.netty.channel.uring.IoUring;
import io.netty.channel.uring.IoUringBufferRingConfig;
import io.netty.channel.uring.IoUringFixedBufferRingAllocator;
import io.netty.channel.uring.IoUringChannelOption;
import io.netty.channel.uring.IoUringDatagramChannel;
import io.netty.channel.uring.IoUringIoHandler;
import io.netty.channel.uring.IoUringIoHandlerConfig;
import io.netty.channel.uring.IoUringServerSocketChannel;
import io.netty.channel.uring.IoUringSocketChannel;
import io.netty.util.concurrent.DefaultThreadFactory;
import org.jspecify.annotations.Nullable;

/**
 * The I/O transport of the data plane: io_uring where the kernel allows it, else Linux epoll,
 * else Java NIO as the portable fallback. Chosen once at start and reported.
 *
 * <p>io_uring comes first because it costs the balancer less: in the bench's full run of
 * 2026-12-07 (unpinned layout, bench/results/2026-12-07/report.md) 94 against 145 µs of CPU per
 * new connection and 15.6 against 24.3 µs per keep-alive request. Each of Netty 4.2.18's native
 * transports has a defect with half-closed connections that l4lb works round: epoll drops a
 * socket whose input has ended from its epoll set and then fails the next wait for writability
 * ({@link KeepRegisteredEpollIoHandler}); io_uring stops writing to such a socket once it has had
 * to wait ({@code tcp.IoUringWriteKick}).
 */
public enum Transport {
    EPOLL("epoll"),
    IO_URING("io_uring"),
    NIO("nio");

    /**
     * Netty's switch for multishot accept, read once when its {@code IoUring} class loads, which
     * this class's methods are the first to do. Off unless set otherwise: with one armed accept
     * taking in every connection the queue holds, a listener paused at its descriptor budget went
     * on accepting until accept(2) failed with EMFILE, and Netty re-armed the failed accept at once
     * whatever the channel's autoRead said, even off its ring: FdExhaustionIT spun at 1.2-2 cores
     * in 3 of 8 runs. Accepting one at a time stops with autoRead like epoll (0 of 5 runs spun,
     * 0 failed accepts), and cost no more: the bench's new-connection test, two runs each,
     * 103 and 103 µs of l4lb CPU per connection against 122 and 104 with multishot
     * (2026-12-07, torture.md).
     */
    static final String ACCEPT_MULTISHOT = "io.netty.iouring.acceptMultiShotEnabled";

    static {
        if (System.getProperty(ACCEPT_MULTISHOT) == null) {
            System.setProperty(ACCEPT_MULTISHOT, "false");
        }
    }

    private static final short BUFFER_GROUP = 1;
    /** A power of two, as io_uring requires; enough for the reads in flight on one loop. */
    private static final short RING_BUFFERS = 256;
    /** As large as the reads bulk streams want (the 64 KiB of Netty's adaptive maximum). */
    private static final int RING_BUFFER_BYTES = 64 << 10;

    private final String displayName;

    Transport(String displayName) {
        this.displayName = displayName;
    }

    /** Can this transport run here? (For io_uring, after this class has set how it accepts.) */
    public boolean isAvailable() {
        return switch (this) {
            case EPOLL -> Epoll.isAvailable();
            case IO_URING -> IoUring.isAvailable();
            case NIO -> true;
        };
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
            case EPOLL -> KeepRegisteredEpollIoHandler.newFactory();
            case IO_URING -> IoUringIoHandler.newFactory(ioUringConfig());
            case NIO -> NioIoHandler.newFactory();
        };
    }

    /**
     * io_uring reads into buffers the kernel takes from a ring each event loop registers (when
     * the kernel has buffer rings, 5.19+), instead of a buffer Netty hands to every pending read:
     * an idle connection pins no memory, and a new connection starts reading without a buffer of
     * its own. On the bench's new-connection test it raised l4lb's rate by about 15% (10,525 to
     * 12,127 connections/s, 0.83x to 1.02x HAProxy's, in two runs 15 minutes apart). The ring
     * holds up to {@link #RING_BUFFERS} buffers of {@link #RING_BUFFER_BYTES} (16 MiB per event
     * loop; a quarter of them at start, more as reads need them); a buffer a read took out is
     * replaced, so connections holding data for a slow peer do not drain the ring.
     */
    private static IoUringIoHandlerConfig ioUringConfig() {
        IoUringIoHandlerConfig config = new IoUringIoHandlerConfig();
        // Only the event loop submits to its ring, so the kernel may skip its cross-thread
        // locking and run completion work when the loop asks (SINGLE_ISSUER, DEFER_TASKRUN where
        // the kernel has them; Netty checks). Measured: a few percent on every workload, in the noise.
        config.setSingleIssuer(true);
        if (IoUring.isRegisterBufferRingSupported()) {
            config.setBufferRingConfig(IoUringBufferRingConfig.builder()
                    .bufferGroupId(BUFFER_GROUP)
                    .bufferRingSize(RING_BUFFERS)
                    .batchSize(RING_BUFFERS / 4)
                    .allocator(new IoUringFixedBufferRingAllocator(RING_BUFFER_BYTES))
                    .build());
        }
        return config;
    }

    /**
     * Options for every relayed TCP socket of this transport (accepted and connected alike): on
     * io_uring with buffer rings, read from the event loop's ring. Applied with the bootstraps'
     * {@code option}/{@code childOption}.
     */
    public void forEachStreamOption(BiConsumer<ChannelOption<Short>, Short> option) {
        if (this == IO_URING && IoUring.isRegisterBufferRingSupported()) {
            option.accept(IoUringChannelOption.IO_URING_BUFFER_GROUP_ID, BUFFER_GROUP);
        }
    }

    public Class<? extends ServerChannel> serverSocketChannel() {
        return switch (this) {
            case EPOLL -> EpollServerSocketChannel.class;
            case IO_URING -> IoUringServerSocketChannel.class;
            case NIO -> NioServerSocketChannel.class;
        };
    }

    /**
     * A new, unconnected TCP socket for a connection to {@code remote}: of the remote's own
     * address family where the transport lets us choose (epoll, NIO), so an IPv4 backend gets an
     * AF_INET socket rather than a dual-stack AF_INET6 one; io_uring's public constructor
     * always takes the JVM's preferred family.
     *
     * @throws io.netty.channel.ChannelException when the socket cannot be created (out of file descriptors)
     */
    public Channel newSocketChannel(InetSocketAddress remote) {
        SocketProtocolFamily family = remote.getAddress() instanceof Inet6Address
                ? SocketProtocolFamily.INET6 : SocketProtocolFamily.INET;
        return switch (this) {
            case EPOLL -> new EpollSocketChannel(family);
            case IO_URING -> new IoUringSocketChannel();
            case NIO -> new NioSocketChannel(SelectorProvider.provider(), family);
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
     * The transport the UDP data plane runs on when this one is chosen: itself, except io_uring,
     * whose UDP runs on epoll. Netty 4.2.18's io_uring datagram channel reserves 512 message
     * headers per socket, and a UDP session has a socket of its own: UdpSessionMemoryTest measured
     * 421 KB of heap and direct memory per session on io_uring against 2.2 KB on epoll, so the
     * default table of 65,536 sessions could have taken 27 GB. The size is fixed in Netty (no
     * option or property), and the session's socket must live on its listener's event loop, so
     * the listener moves too.
     */
    public Transport forDatagrams() {
        if (this != IO_URING) {
            return this;
        }
        return Epoll.isAvailable() ? EPOLL : NIO;
    }

    public Class<? extends DatagramChannel> datagramChannel() {
        return switch (this) {
            case EPOLL -> EpollDatagramChannel.class;
            case IO_URING -> IoUringDatagramChannel.class;
            case NIO -> NioDatagramChannel.class;
        };
    }

    /**
     * IP_TRANSPARENT, when this transport can set it: a listener with it accepts connections the
     * kernel's TPROXY target steers to it, each keeping its original destination as its local
     * address. Null on NIO, which has no such option.
     */
    public @Nullable ChannelOption<Boolean> transparentOption() {
        return switch (this) {
            case EPOLL -> EpollChannelOption.IP_TRANSPARENT;
            case IO_URING -> IoUringChannelOption.IP_TRANSPARENT;
            case NIO -> null;
        };
    }

    /**
     * IP_BIND_ADDRESS_NO_PORT (SOL_IP 24) in io_uring's terms: Netty 4.2.18 names it for epoll only,
     * but both take raw integer options, and the kernel reads SOL_IP options on an AF_INET6
     * socket (io_uring's are dual-stack) as an AF_INET one's.
     */
    private static final IntegerUnixChannelOption IO_URING_BIND_ADDRESS_NO_PORT =
            new IntegerUnixChannelOption("IP_BIND_ADDRESS_NO_PORT", 0, 24);

    /**
     * Sets IP_BIND_ADDRESS_NO_PORT on a socket about to be bound to an address with port 0: its
     * port is then picked at the connect, unique per destination, not reserved on the address
     * for every destination. Without it each bind searches the address's ports for a free one,
     * which grows slow as TIME_WAIT sockets hold them (measured: bench/source-ip).
     *
     * @return false where the transport cannot (NIO)
     */
    public boolean bindAddressNoPort(ChannelConfig config) {
        return switch (this) {
            case EPOLL -> config.setOption(EpollChannelOption.IP_BIND_ADDRESS_NO_PORT, true);
            case IO_URING -> config.setOption(IO_URING_BIND_ADDRESS_NO_PORT, 1);
            case NIO -> false;
        };
    }

    /**
     * SO_REUSEPORT, when this transport can set it: then each listener is bound once per event
     * loop and the kernel spreads accepts over the loops. Null on NIO, where one socket serves.
     */
    public @Nullable ChannelOption<Boolean> reusePortOption() {
        return switch (this) {
            case EPOLL -> EpollChannelOption.SO_REUSEPORT;
            case IO_URING -> IoUringChannelOption.SO_REUSEPORT;
            case NIO -> null;
        };
    }
}

package dev.l4lb.netty.transport;

import io.netty.channel.IoHandle;
import io.netty.channel.IoHandler;
import io.netty.channel.IoHandlerContext;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.IoOps;
import io.netty.channel.IoRegistration;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollIoOps;

/**
 * Netty's epoll I/O handler with one defect of 4.2.18 worked around, so that a half-closed
 * connection can still be written to. When a channel's interest set becomes empty (its input
 * has ended and it is not waiting to write), Netty removes its fd from the epoll set but goes
 * on treating it as added; the channel's next interest, waiting to write the rest of a reply
 * its peer is slow to take, then fails (EPOLL_CTL_MOD: ENOENT) and that write is lost.
 * {@code EpollHalfCloseTest} shows it with Netty alone.
 *
 * <p>Here an empty interest set is submitted as EPOLLET alone: the fd stays in the set, waking
 * for nothing it did not ask for. Netty empties the set so that a connection both of whose
 * directions have ended does not report its hang-up over and over (its sockets are
 * level-triggered); edge-triggered, the hang-up is reported once and ignored, as before.
 */
final class KeepRegisteredEpollIoHandler implements IoHandler {
    private final IoHandler epoll;

    private KeepRegisteredEpollIoHandler(IoHandler epoll) {
        this.epoll = epoll;
    }

    static IoHandlerFactory newFactory() {
        IoHandlerFactory epoll = EpollIoHandler.newFactory();
        return executor -> new KeepRegisteredEpollIoHandler(epoll.newHandler(executor));
    }

    @Override
    public IoRegistration register(IoHandle handle) throws Exception {
        return new KeptRegistration(epoll.register(handle));
    }

    @Override
    public void initialize() {
        epoll.initialize();
    }

    @Override
    public int run(IoHandlerContext context) {
        return epoll.run(context);
    }

    @Override
    public void prepareToDestroy() {
        epoll.prepareToDestroy();
    }

    @Override
    public void destroy() {
        epoll.destroy();
    }

    @Override
    public void wakeup() {
        epoll.wakeup();
    }

    @Override
    public boolean isCompatible(Class<? extends IoHandle> handleType) {
        return epoll.isCompatible(handleType);
    }

    /** A channel's registration that never empties its interest set. */
    private record KeptRegistration(IoRegistration epoll) implements IoRegistration {
        @Override
        public long submit(IoOps ops) {
            boolean empty = ops instanceof EpollIoOps epollOps && epollOps.value() == EpollIoOps.NONE.value();
            return epoll.submit(empty ? EpollIoOps.EPOLLET : ops);
        }

        @Override
        public <T> T attachment() {
            return epoll.attachment();
        }

        @Override
        public boolean isValid() {
            return epoll.isValid();
        }

        @Override
        public boolean cancel() {
            return epoll.cancel();
        }
    }
}

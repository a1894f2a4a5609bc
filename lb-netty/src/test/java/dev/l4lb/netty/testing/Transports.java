package dev.l4lb.netty.testing;

import java.util.ArrayList;
import java.util.List;

import dev.l4lb.netty.transport.Transport;

/** The transports this machine can run, so relay tests cover each of them. */
public final class Transports {
    private Transports() {
    }

    public static List<Transport> available() {
        List<Transport> transports = new ArrayList<>();
        // Through Transport, so that io_uring is set up as lb sets it up (Transport.ACCEPT_MULTISHOT).
        if (Transport.EPOLL.isAvailable()) {
            transports.add(Transport.EPOLL);
        }
        if (Transport.IO_URING.isAvailable()) {
            transports.add(Transport.IO_URING);
        }
        transports.add(Transport.NIO);
        return transports;
    }
}

package dev.l4lb.netty.testing;

import java.util.ArrayList;
import java.util.List;

import io.netty.channel.epoll.Epoll;
import io.netty.channel.uring.IoUring;

import dev.l4lb.netty.Transport;

/** The transports this machine can run, so relay tests cover each of them. */
public final class Transports {
    private Transports() {
    }

    public static List<Transport> available() {
        List<Transport> transports = new ArrayList<>();
        if (Epoll.isAvailable()) {
            transports.add(Transport.EPOLL);
        }
        if (IoUring.isAvailable()) {
            transports.add(Transport.IO_URING);
        }
        transports.add(Transport.NIO);
        return transports;
    }
}

package dev.l4lb.netty.testing;

import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;

import dev.l4lb.netty.transport.BindFailure;
import dev.l4lb.netty.transport.Transport;
import dev.l4lb.netty.echo.EchoServer;

/** l4lb's own echo backends on loopback ports the kernel picks. */
public final class EchoBackends {
    private EchoBackends() {
    }

    /** {@code count} backends on one server; close the server to stop them all. */
    public static EchoServer start(Transport transport, int count) throws BindFailure {
        List<InetSocketAddress> addresses = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            addresses.add(Ports.loopback(0));
        }
        return EchoServer.start(addresses, transport, 1);
    }

    /** {@code count} UDP echo backends on one server. */
    public static EchoServer startUdp(Transport transport, int count) throws BindFailure {
        List<InetSocketAddress> addresses = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            addresses.add(Ports.loopback(0));
        }
        return EchoServer.startUdp(addresses, transport, 1);
    }
}

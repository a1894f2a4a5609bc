package dev.l4lb.netty.transport;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetSocketAddress;

import io.netty.channel.Channel;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.uring.IoUring;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import dev.l4lb.netty.testing.Ports;

/** How l4lb sets Netty's sockets up: io_uring before Netty reads its settings, and sockets bound before their connect. */
class TransportTest {

    /**
     * A socket bound to an address with port 0 under IP_BIND_ADDRESS_NO_PORT has no port until
     * its connect, which picks one per destination (the transparent upstream connects rely on
     * it): epoll by its named option, io_uring by the raw one, on its dual-stack socket.
     */
    @ParameterizedTest
    @EnumSource(value = Transport.class, names = {"EPOLL", "IO_URING"})
    void aSocketBoundWithoutAPortGetsItsPortAtTheConnect(Transport transport) throws Exception {
        Assumptions.assumeTrue(transport.isAvailable(), transport + " is not available here");
        MultiThreadIoEventLoopGroup group = transport.newGroup(1, "no-port-test");
        try {
            InetSocketAddress remote = Ports.loopback(Ports.free());
            Channel deferred = transport.newSocketChannel(remote);
            assertThat(transport.bindAddressNoPort(deferred.config())).isTrue();
            Channel plain = transport.newSocketChannel(remote);
            group.register(deferred).sync();
            group.register(plain).sync();

            deferred.bind(Ports.loopback(0)).sync();
            plain.bind(Ports.loopback(0)).sync();

            assertThat(((InetSocketAddress) deferred.localAddress()).getPort()).isZero();
            assertThat(((InetSocketAddress) plain.localAddress()).getPort()).isPositive();
            deferred.close().sync();
            plain.close().sync();
        } finally {
            group.shutdownGracefully(0, 0, java.util.concurrent.TimeUnit.SECONDS).sync();
        }
    }

    @Test
    void ioUringAcceptsOneConnectionAtATimeUnlessToldOtherwise() {
        Assumptions.assumeTrue(Transport.IO_URING.isAvailable(), "io_uring is not available here");
        // Netty read the switch when Transport first asked IoUring anything: off, so that a paused
        // listener stops accepting (Transport.ACCEPT_MULTISHOT says why).
        assertThat(System.getProperty(Transport.ACCEPT_MULTISHOT)).isEqualTo("false");
        assertThat(IoUring.isAcceptMultishotEnabled()).isFalse();
    }
}

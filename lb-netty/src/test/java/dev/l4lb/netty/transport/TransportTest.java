package dev.l4lb.netty.transport;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.channel.uring.IoUring;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/** How l4lb sets Netty's io_uring up before Netty reads its settings. */
class TransportTest {

    @Test
    void ioUringAcceptsOneConnectionAtATimeUnlessToldOtherwise() {
        Assumptions.assumeTrue(Transport.IO_URING.isAvailable(), "io_uring is not available here");
        // Netty read the switch when Transport first asked IoUring anything: off, so that a paused
        // listener stops accepting (Transport.ACCEPT_MULTISHOT says why).
        assertThat(System.getProperty(Transport.ACCEPT_MULTISHOT)).isEqualTo("false");
        assertThat(IoUring.isAcceptMultishotEnabled()).isFalse();
    }
}

package dev.l4lb.netty.udp;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.util.List;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/** The kernel's per-socket drop count, read for a real socket whose receive buffer overflows. */
class ReceiveBufferDropsTest {

    @Test
    void countsWhatTheKernelDroppedForAFullReceiveBuffer() throws Exception {
        for (StandardProtocolFamily family : List.of(StandardProtocolFamily.INET, StandardProtocolFamily.INET6)) {
            try (DatagramChannel full = DatagramChannel.open(family); DatagramChannel sender = DatagramChannel.open()) {
                full.setOption(StandardSocketOptions.SO_RCVBUF, 4096); // the kernel doubles it; still a handful of datagrams
                full.bind(new InetSocketAddress("127.0.0.1", 0)); // on INET6: the IPv4-mapped form, as Netty's native sockets bind
                InetSocketAddress address = new InetSocketAddress(InetAddress.getLoopbackAddress(),
                        ((InetSocketAddress) full.getLocalAddress()).getPort());
                ReceiveBufferDrops drops = new ReceiveBufferDrops();
                assertThat(drops.dropped(List.of(address))).isZero();

                for (int i = 0; i < 200; i++) {
                    sender.send(ByteBuffer.allocate(1000), address); // never read: most cannot fit
                }

                ReceiveBufferDrops fresh = new ReceiveBufferDrops(); // the first one keeps its reading for a second
                assertThat(fresh.dropped(List.of(address))).as("drops on %s", family).isBetween(150L, 200L);
                assertThat(fresh.dropped(List.of(new InetSocketAddress("127.0.0.1", address.getPort() == 1 ? 2 : address.getPort() - 1))))
                        .as("another port's").isZero();
            }
        }
    }

    @Test
    void printsAddressesAsTheKernelDoes() {
        // Little-endian x86 and arm64: 127.0.0.1:53 is 0100007F:0035 in /proc/net/udp.
        Assumptions.assumeTrue(java.nio.ByteOrder.nativeOrder() == java.nio.ByteOrder.LITTLE_ENDIAN,
                "the expected forms are a little-endian machine's");
        assertThat(ReceiveBufferDrops.procForm(new InetSocketAddress("127.0.0.1", 53))).isEqualTo("0100007F:0035");
        assertThat(ReceiveBufferDrops.procForm(new InetSocketAddress("::1", 8080)))
                .isEqualTo("00000000000000000000000001000000:1F90");
    }
}

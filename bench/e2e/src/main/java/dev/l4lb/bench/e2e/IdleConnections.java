package dev.l4lb.bench.e2e;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.List;

import dev.l4lb.core.model.Addresses;

/**
 * Opens N connections through a balancer to a byte-echo backend, checks each one is relayed
 * (one byte there and back), prints {@code ready N}, then holds them idle until killed: what the
 * memory measurement needs to read the balancer's bytes per idle connection.
 *
 * <p>{@code IdleConnections HOST:PORT N}
 */
public final class IdleConnections {
    private IdleConnections() {
    }

    public static void main(String[] args) throws IOException, InterruptedException {
        InetSocketAddress target = Addresses.parseHostPort(args[0])
                .orElseThrow(() -> new IllegalArgumentException("not HOST:PORT: " + args[0]));
        int count = Integer.parseInt(args[1]);
        List<SocketChannel> open = new ArrayList<>(count);
        ByteBuffer probe = ByteBuffer.allocate(1);
        for (int i = 0; i < count; i++) {
            SocketChannel channel = SocketChannel.open(target);
            probe.clear().put((byte) 'x').flip();
            channel.write(probe);
            probe.clear();
            if (channel.read(probe) != 1) {
                throw new IOException("connection " + i + " was not relayed");
            }
            open.add(channel);
        }
        System.out.println("ready " + open.size());
        System.out.flush();
        Thread.sleep(Long.MAX_VALUE);
    }
}

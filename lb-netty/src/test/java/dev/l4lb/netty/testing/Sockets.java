package dev.l4lb.netty.testing;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;

/** Client sockets as the tests use them: bounded waits, so a hang fails instead of stalling CI. */
public final class Sockets {
    private Sockets() {
    }

    public static Socket connect(InetSocketAddress address) throws IOException {
        Socket socket = new Socket();
        socket.connect(address, 5000);
        socket.setSoTimeout(30_000);
        return socket;
    }

    /**
     * The next byte, or -1 when the peer ended the connection, by FIN or by reset (a reset may
     * arrive as early as the end of the handshake).
     */
    public static int readOrEnd(Socket client) throws IOException {
        try {
            return client.getInputStream().read();
        } catch (java.net.ConnectException e) {
            throw e;
        } catch (java.net.SocketException reset) {
            return -1;
        }
    }

    /**
     * Bytes read until the end of the stream, a reset, or the socket's read timeout: how much of a
     * transfer arrived, where a stalled sender shows as fewer bytes rather than as an exception.
     */
    public static long readUntilEndOrStall(InputStream in) {
        long total = 0;
        byte[] buffer = new byte[1 << 16];
        try {
            for (int n; (n = in.read(buffer)) >= 0; ) {
                total += n;
            }
        } catch (IOException stalledOrReset) {
            // what a stalled sender looks like from here: the transfer stops short
        }
        return total;
    }

    /** Sends {@code text} and expects exactly it back (the byte echo of an echo backend). */
    public static void assertEchoes(Socket client, String text) throws IOException {
        byte[] bytes = text.getBytes(StandardCharsets.US_ASCII);
        client.getOutputStream().write(bytes);
        assertThat(new String(client.getInputStream().readNBytes(bytes.length), StandardCharsets.US_ASCII)).isEqualTo(text);
    }
}

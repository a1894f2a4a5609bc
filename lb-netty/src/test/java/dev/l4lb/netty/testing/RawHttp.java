package dev.l4lb.netty.testing;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** An HTTP/1.0 GET over a plain socket, as curl would send it, for reading the echo page. */
public final class RawHttp {
    private static final Pattern BACKEND = Pattern.compile("(?m)^backend=(\\S+)$");

    private RawHttp() {
    }

    /** The whole response, headers and body. */
    public static String get(InetSocketAddress address, String path) throws IOException {
        return get(address, path, null);
    }

    /** The whole response, asked from the local address {@code from} (any when null). */
    public static String get(InetSocketAddress address, String path, InetAddress from) throws IOException {
        try (Socket socket = new Socket()) {
            if (from != null) {
                socket.bind(new InetSocketAddress(from, 0));
            }
            socket.connect(address, 5000);
            socket.setSoTimeout(10_000);
            socket.getOutputStream().write(("GET " + path + " HTTP/1.0\r\nHost: test\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            InputStream in = socket.getInputStream();
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    /** Which backend answered, from the echo page's {@code backend=} line. */
    public static String backendOf(String response) {
        Matcher m = BACKEND.matcher(response);
        if (!m.find()) {
            throw new AssertionError("no backend= line in response: " + response);
        }
        return m.group(1);
    }
}

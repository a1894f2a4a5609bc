package dev.l4lb.netty.testing;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;

import javax.net.ssl.ExtendedSSLSession;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SNIMatcher;
import javax.net.ssl.SNIServerName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLSocket;

/**
 * A TLS server on loopback that terminates what a passthrough balancer relays: it answers each
 * line with {@code <its name> <the SNI of the session> <the line>}, and keeps every server name
 * it saw in a ClientHello, including those of handshakes that never finished.
 */
public final class TlsEchoBackend implements AutoCloseable {
    private final String name;
    private final SSLServerSocket server;
    private final Queue<String> namesSeen = new ConcurrentLinkedQueue<>();
    private final Thread acceptor;

    public TlsEchoBackend(String name, SSLContext context) throws IOException {
        this.name = name;
        this.server = (SSLServerSocket) context.getServerSocketFactory().createServerSocket(0, 50, InetAddress.getLoopbackAddress());
        SSLParameters parameters = server.getSSLParameters();
        parameters.setSNIMatchers(List.of(new SNIMatcher(0) { // type 0: host_name
            @Override
            public boolean matches(SNIServerName serverName) {
                namesSeen.add(((SNIHostName) serverName).getAsciiName());
                return true;
            }
        }));
        server.setSSLParameters(parameters);
        acceptor = new Thread(this::accept, "tls-backend-" + name);
        acceptor.setDaemon(true);
        acceptor.start();
    }

    public InetSocketAddress address() {
        return (InetSocketAddress) server.getLocalSocketAddress();
    }

    /** Server names seen in ClientHellos, in order. */
    public List<String> namesSeen() {
        return List.copyOf(namesSeen);
    }

    private void accept() {
        while (!server.isClosed()) {
            try {
                SSLSocket socket = (SSLSocket) server.accept();
                Thread serving = new Thread(() -> serve(socket), "tls-backend-conn-" + name);
                serving.setDaemon(true);
                serving.start();
            } catch (IOException e) {
                return; // closed
            }
        }
    }

    private void serve(SSLSocket socket) {
        try (socket) {
            socket.setSoTimeout(20_000);
            BufferedReader in = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8));
            OutputStream out = socket.getOutputStream();
            List<SNIServerName> requested = ((ExtendedSSLSession) socket.getSession()).getRequestedServerNames();
            String sni = requested.isEmpty() ? "-" : ((SNIHostName) requested.get(0)).getAsciiName();
            String line;
            while ((line = in.readLine()) != null) {
                out.write((name + " " + sni + " " + line + "\n").getBytes(StandardCharsets.UTF_8));
                out.flush();
            }
        } catch (IOException e) {
            // a client that never finished its handshake (the fragmented-hello test's)
        }
    }

    @Override
    public void close() throws IOException {
        server.close();
    }
}

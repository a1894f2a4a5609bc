package dev.l4lb.netty.log;

import java.net.InetSocketAddress;
import java.time.Instant;

import org.jspecify.annotations.Nullable;

/**
 * What the connection log will say of one TCP connection or UDP session, gathered while it lives:
 * who it is from, what it was sent to, the endpoint it reached and why it ended. Kept only while
 * the log is on; written as a {@link ClosedConnection} when it closes.
 */
public final class ConnectionRecord {
    private String service;
    /** The TLS server name a listener shared by name routed by; null when none was read. */
    private @Nullable String serverName;
    private final long startedNanos = System.nanoTime();
    private InetSocketAddress client;
    private InetSocketAddress destination;
    private @Nullable InetSocketAddress endpoint;
    private @Nullable String outcome;

    /**
     * @param service     the port's {@code namespace/name:port}; {@code -} on a listener shared by
     *                    server name until the ClientHello picks the port ({@link #service(String)})
     * @param client      the peer, until a PROXY header names the real client ({@link #client(InetSocketAddress, InetSocketAddress)})
     * @param destination what the client connected to
     */
    public ConnectionRecord(String service, InetSocketAddress client, InetSocketAddress destination) {
        this.service = service;
        this.client = client;
        this.destination = destination;
    }

    /** The real client and its destination, as a trusted upstream's PROXY header names them. */
    public void client(InetSocketAddress client, InetSocketAddress destination) {
        this.client = client;
        this.destination = destination;
    }

    /** The port chosen once the ClientHello named it, on a listener shared by server name. */
    public void service(String service) {
        this.service = service;
    }

    /** The server name of the ClientHello (null when it carried none). */
    public void serverName(@Nullable String name) {
        this.serverName = name;
    }

    /** The endpoint it is relayed to now, or the one whose connect failed last when none could be connected. */
    public void endpoint(InetSocketAddress endpoint) {
        this.endpoint = endpoint;
    }

    /** Why it was refused, or {@code ok} once an endpoint took it. */
    public void outcome(String label) {
        this.outcome = label;
    }

    /** What {@link #outcome(String)} set; null when nothing has. */
    public @Nullable String outcome() {
        return outcome;
    }

    /** The log line for its close now, having relayed {@code bytesIn} and {@code bytesOut}, ended for {@code why}. */
    public ClosedConnection closed(String id, long bytesIn, long bytesOut, String why) {
        return new ClosedConnection(Instant.now(), id, service, client, destination, endpoint, bytesIn, bytesOut,
                System.nanoTime() - startedNanos, why, serverName);
    }
}

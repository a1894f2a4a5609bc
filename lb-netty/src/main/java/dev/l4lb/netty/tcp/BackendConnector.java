package dev.l4lb.netty.tcp;

import java.net.InetSocketAddress;

import io.netty.channel.Channel;
import io.netty.channel.ChannelException;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.haproxy.HAProxyMessageEncoder;
import org.jspecify.annotations.Nullable;

import dev.l4lb.core.model.PortPolicy;
import dev.l4lb.core.model.ProxyProtocol;
import dev.l4lb.core.sched.Backend;
import dev.l4lb.core.table.Admission;
import dev.l4lb.core.table.Outcome;
import dev.l4lb.netty.proxyprotocol.ProxyHeaders;

/**
 * Connects an admitted client's endpoint: the next endpoint its {@link Admission} gives, a connect
 * on the client's own event loop within the port's connect timeout, the next endpoint when that
 * fails; once connected, the PROXY header the port sends goes first. One per client connection.
 *
 * <p>Where the port and the node let it ({@link ClientSourceConnects}), the connect comes from the
 * client's own address. When that one fails in a way that may not be the endpoint's (a timeout
 * where such a connect never worked, a local error), the same endpoint is tried once more from
 * the node's address before it counts as failed.
 */
final class BackendConnector {
    /** Where the connector's work ends. */
    interface Done {
        /** {@code outbound} is connected to {@code backend} (header written, not flushed), the client still there. */
        void connected(Channel outbound, Backend backend);

        /** No endpoint could be connected: {@code why} ({@link Admission#refusal()}). */
        void refused(Outcome why);
    }

    private final Channel inbound;
    private final Admission admission;
    private final TcpDataPlane plane;
    private final Done done;
    /** The real client and what it connected to, for the PROXY header sent onward. */
    private final InetSocketAddress client;
    private final InetSocketAddress destination;
    /** The backend connection being made, to close if the client leaves first. */
    private @Nullable Channel connecting;
    /** Why the connect from the client's address to the endpoint being connected failed; null when none did. */
    private @Nullable Throwable failedFromClient;
    /** Whether the connect from the node's address after it decides whether the endpoint's replies bypass the node. */
    private boolean probing;

    BackendConnector(Channel inbound, Admission admission, TcpDataPlane plane, InetSocketAddress client,
                     InetSocketAddress destination, Done done) {
        this.inbound = inbound;
        this.admission = admission;
        this.plane = plane;
        this.client = client;
        this.destination = destination;
        this.done = done;
    }

    /** Connects the next endpoint the admission gives, or reports the refusal when there is none. */
    void connectNext() {
        Backend backend = admission.next();
        if (backend == null) {
            done.refused(admission.refusal());
            return;
        }
        connect(backend, plane.clientSources().fromClient(admission.route().policy().upstreamSource(), client.getAddress(),
                backend.address()));
    }

    /** Connects {@code backend}, from the client's address when {@code fromClient}, else from the node's. */
    private void connect(Backend backend, boolean fromClient) {
        long started = System.nanoTime();
        Channel outbound;
        try {
            // The backend side's relay releases the endpoint's count, taken at the pick, when it closes.
            outbound = plane.newBackendChannel(backend.address(), connectTimeoutMillis(admission.route().policy()),
                    new TcpRelayHandler(inbound, backend, admission.route().counters(), null, null), fromClient);
        } catch (ChannelException e) { // no socket at all (out of file descriptors), or IP_TRANSPARENT refused
            connectDone(null, e, backend, started, fromClient);
            return;
        }
        connecting = outbound;
        ChannelFuture registered = inbound.eventLoop().register(outbound);
        if (registered.isDone()) { // as it is on our own event loop
            connect(outbound, registered, backend, started, fromClient);
        } else {
            registered.addListener(f -> connect(outbound, registered, backend, started, fromClient));
        }
    }

    /** The client left: a half-made backend connection goes with it. */
    void abandon() {
        if (connecting != null) {
            connecting.close();
        }
    }

    private void connect(Channel outbound, ChannelFuture registered, Backend backend, long started, boolean fromClient) {
        if (!registered.isSuccess()) {
            connectDone(outbound, registered.cause(), backend, started, fromClient);
            return;
        }
        // Port 0: the kernel picks the client address's port (at the connect, with IP_BIND_ADDRESS_NO_PORT).
        // The local address is one small object per such connection: Netty takes no address and port apart.
        ChannelFuture connect = fromClient
                ? outbound.connect(backend.address(), new InetSocketAddress(client.getAddress(), 0))
                : outbound.connect(backend.address());
        connect.addListener(f -> connectDone(outbound, f.cause(), backend, started, fromClient));
    }

    private static int connectTimeoutMillis(PortPolicy policy) {
        return (int) Math.min(Integer.MAX_VALUE, policy.connectTimeout().toMillis());
    }

    /** @param cause null when connected */
    private void connectDone(@Nullable Channel outbound, @Nullable Throwable cause, Backend backend, long started,
                             boolean fromClient) {
        connecting = null;
        ClientSourceConnects sources = plane.clientSources();
        if (cause == null) {
            backend.connectDone();
            if (failedFromClient != null) {
                sources.connectedFromNode(client.getAddress(), backend.address(), failedFromClient, probing);
                failedFromClient = null;
            } else if (fromClient) {
                sources.reached(client.getAddress(), backend.address());
            }
            connected(outbound, backend, System.nanoTime() - started);
            return;
        }
        if (outbound != null) {
            outbound.close(); // a failed connect leaves its socket open (epoll); it never became active
        }
        if (!inbound.isActive()) {
            backend.connectDone();
            backend.release();
            return; // the client left, which is not the endpoint's failure
        }
        if (fromClient) {
            ClientSourceConnects.AfterFailure next = sources.afterFailure(client.getAddress(), backend.address(), cause);
            if (next != ClientSourceConnects.AfterFailure.FAILED) {
                // The same endpoint from the node's address, still counted as one connect in progress.
                failedFromClient = cause;
                probing = next == ClientSourceConnects.AfterFailure.PROBE_FROM_NODE;
                connect(backend, false);
                return;
            }
        }
        failedFromClient = null;
        backend.connectDone();
        backend.release();
        admission.failed(backend, cause);
        connectNext();
    }

    private void connected(Channel outbound, Backend backend, long connectNanos) {
        if (!inbound.isActive()) {
            outbound.close(); // the client left while we connected; its relay releases the endpoint's count
            return;
        }
        backend.recordEstablished(connectNanos);
        backend.reached();
        PortPolicy policy = admission.route().policy();
        if (policy.proxyProtocol() != ProxyProtocol.NONE) {
            ChannelPipeline pipeline = outbound.pipeline();
            pipeline.addFirst(HAProxyMessageEncoder.INSTANCE);
            String uniqueId = policy.proxyProtocolUniqueId() ? inbound.id().asLongText() : null;
            outbound.write(ProxyHeaders.proxy(policy.proxyProtocol(), client, destination, uniqueId), outbound.voidPromise());
            pipeline.remove(HAProxyMessageEncoder.INSTANCE);
        }
        done.connected(outbound, backend);
    }
}

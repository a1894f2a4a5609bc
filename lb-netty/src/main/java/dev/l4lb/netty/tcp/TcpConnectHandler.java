package dev.l4lb.netty.tcp;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

import io.netty.channel.Channel;
import io.netty.channel.ChannelException;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.haproxy.HAProxyMessageEncoder;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.util.ReferenceCountUtil;

import dev.l4lb.core.model.AcceptProxyProtocol;
import dev.l4lb.core.model.PortPolicy;
import dev.l4lb.core.model.ProxyProtocol;
import dev.l4lb.core.sched.Backend;
import dev.l4lb.core.sched.ConnectError;
import dev.l4lb.core.table.Outcome;
import dev.l4lb.core.table.Route;
import dev.l4lb.netty.log.ClosedConnection;
import dev.l4lb.netty.proxyprotocol.ProxiedAddresses;
import dev.l4lb.netty.proxyprotocol.ProxyHeaderReader;
import dev.l4lb.netty.proxyprotocol.ProxyHeaders;

/**
 * The first moments of a client connection: find its route; when the port accepts PROXY headers,
 * refuse untrusted peers and read the header (which names the real client); check the source and
 * the port's limit, pick an endpoint and connect to it on the client's own event loop, trying the next
 * endpoint when a connect fails. Once connected it hands both channels to {@link TcpRelayHandler}
 * and leaves the pipeline.
 */
final class TcpConnectHandler extends ChannelInboundHandlerAdapter {
    private final ListenerRouting routing;
    private final TcpDataPlane plane;

    private Route route;
    /** The real client: the peer, or the client a trusted upstream's PROXY header names. */
    private InetSocketAddress clientAddress;
    private InetAddress client;
    /** What the client connected to: our listener, or the header's destination. */
    private InetSocketAddress destination;
    private int attemptsLeft;
    /**
     * Endpoints not to pick again for this connection: their connect failed, or another event loop
     * took their last free slot first. Allocated only when that happens.
     */
    private List<Backend> skipped;
    private boolean connectFailed;
    /** Counted in by the port's limit: its release falls to whoever closes the client side. */
    private boolean admitted;
    /** The backend connection being made, to close if the client leaves first. */
    private Channel connecting;
    /**
     * Bytes the client sent before the backend was connected. With reads off this only happens
     * when the client half-closes early (epoll reads up to the FIN on RDHUP), so it is bounded by
     * the socket's receive buffer.
     */
    private List<Object> early;
    private boolean finEarly;

    // Kept for the connection log only (when it is on).
    private long acceptedNanos;
    private Backend chosen;
    private TcpRelayHandler clientSide;
    private TcpRelayHandler backendSide;
    private IdleTimer idleTimer;
    private Outcome outcome;

    TcpConnectHandler(ListenerRouting routing, TcpDataPlane plane) {
        this.routing = routing;
        this.plane = plane;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        Channel inbound = ctx.channel();
        plane.clientOpened(inbound); // clientClosed() by this handler's channelInactive, or the client side's relay's
        if (routing.transparent() && plane.refusingTransparent()) {
            TcpRelayHandler.reset(inbound); // shutting down: refused while the others drain
            return;
        }
        destination = (InetSocketAddress) inbound.localAddress();
        route = plane.route(routing, destination);
        if (route == null) {
            plane.countUnrouted();
            TcpRelayHandler.reset(inbound);
            return;
        }
        InetSocketAddress peer = (InetSocketAddress) inbound.remoteAddress();
        clientAddress = peer;
        if (plane.connectionLog().enabled()) {
            acceptedNanos = System.nanoTime();
            inbound.closeFuture().addListener(f -> logClosed(inbound));
        }
        AcceptProxyProtocol accept = route.policy().acceptProxyProtocol();
        if (!accept.enabled()) {
            admit(ctx, peer, destination);
            return;
        }
        if (!accept.trusts(peer.getAddress())) {
            // Anyone else could name any client in a header, so they are not served at all.
            refuse(inbound, Outcome.UNTRUSTED_UPSTREAM);
            return;
        }
        ProxyHeaderReader.install(ctx.pipeline(), ctx.name(), route.counters(), accept.headerTimeout());
        // ...and admit() follows on the ProxiedAddresses event.
    }

    /**
     * From here on {@code clientAddress} is the real client everywhere: source ranges, affinity and
     * hashing, and the header sent onward.
     */
    private void admit(ChannelHandlerContext ctx, InetSocketAddress clientAddress, InetSocketAddress destination) {
        Channel inbound = ctx.channel();
        this.clientAddress = clientAddress;
        this.destination = destination;
        client = clientAddress.getAddress();
        PortPolicy policy = route.policy();
        if (!policy.allowsSource(client)) {
            refuse(inbound, Outcome.DENIED_SOURCE);
            return;
        }
        // A node or pod client of an externalTrafficPolicy Local port is served by every endpoint.
        route = route.forClient(client);
        policy = route.policy();
        if (!route.counters().tryAdmit(policy.maxConnections())) {
            refuse(inbound, Outcome.REFUSED_LIMIT);
            return;
        }
        admitted = true; // released when the client side closes: by channelInactive here, or by its relay
        attemptsLeft = Math.max(1, route.backends().size());
        connectNext(ctx);
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (early == null) {
            early = new ArrayList<>(4);
        }
        early.add(msg);
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof ProxiedAddresses addresses) {
            admit(ctx, addresses.client(), addresses.destination());
        } else if (evt instanceof ChannelInputShutdownEvent) {
            finEarly = true;
        } else {
            ctx.fireUserEventTriggered(evt);
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        // The client failed (typically reset) before its backend was connected: just end it.
        ctx.close();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        // The client left before its backend was connected (or was refused).
        plane.clientClosed(ctx.channel());
        if (admitted) {
            route.counters().release();
        }
        if (connecting != null) {
            connecting.close(); // a client that leaves while we connect takes the half-made backend connection with it
        }
        ctx.fireChannelInactive();
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        releaseEarly(); // closed before a backend was reached: nothing will forward these
    }

    private void releaseEarly() {
        if (early != null) {
            early.forEach(ReferenceCountUtil::release);
            early = null;
        }
    }

    private void connectNext(ChannelHandlerContext ctx) {
        Channel inbound = ctx.channel();
        Backend backend = nextBackend();
        if (backend == null) {
            refuse(inbound, connectFailed ? Outcome.CONNECT_FAILED
                    : route.scheduler().hasEligible() ? Outcome.REFUSED_LIMIT : Outcome.NO_ENDPOINT);
            return;
        }
        attemptsLeft--;
        long started = System.nanoTime();
        Channel outbound;
        try {
            // The backend side's relay releases the endpoint's count, taken at the pick, when it closes.
            outbound = plane.newBackendChannel(backend.address(), connectTimeoutMillis(route.policy()),
                    new TcpRelayHandler(inbound, backend, route.counters(), null));
        } catch (ChannelException e) { // no socket at all (out of file descriptors)
            connectDone(ctx, null, e, backend, started);
            return;
        }
        connecting = outbound;
        ChannelFuture registered = inbound.eventLoop().register(outbound);
        if (registered.isDone()) { // as it is on our own event loop
            connect(ctx, outbound, registered, backend, started);
        } else {
            registered.addListener(f -> connect(ctx, outbound, registered, backend, started));
        }
    }

    private void connect(ChannelHandlerContext ctx, Channel outbound, ChannelFuture registered, Backend backend,
                         long started) {
        if (!registered.isSuccess()) {
            connectDone(ctx, outbound, registered.cause(), backend, started);
            return;
        }
        ChannelFuture connect = outbound.connect(backend.address());
        connect.addListener(f -> connectDone(ctx, outbound, f.cause(), backend, started));
    }

    private static int connectTimeoutMillis(PortPolicy policy) {
        return (int) Math.min(Integer.MAX_VALUE, policy.connectTimeout().toMillis());
    }

    /** @param cause null when connected */
    private void connectDone(ChannelHandlerContext ctx, Channel outbound, Throwable cause, Backend backend,
                             long started) {
        connecting = null;
        backend.connectDone();
        if (cause == null) {
            connected(ctx, outbound, backend, System.nanoTime() - started);
            return;
        }
        if (outbound != null) {
            outbound.close(); // a failed connect leaves its socket open (epoll); it never became active
        }
        backend.release();
        if (!ctx.channel().isActive()) {
            return; // the client left, which is not the endpoint's failure
        }
        route.scheduler().connectFailed(backend, client);
        backend.recordConnectError(new ConnectError(Instant.now(),
                cause.getMessage() != null ? cause.getMessage() : cause.toString()));
        connectFailed = true;
        skip(backend);
        connectNext(ctx);
    }

    /**
     * The scheduler's next choice among endpoints not skipped yet, already counted as active on
     * that endpoint (within its limit); null when out of tries or of endpoints with room.
     */
    private Backend nextBackend() {
        // Each round either returns or skips one more endpoint, so this ends within the endpoint count.
        while (attemptsLeft > 0) {
            Backend candidate = route.scheduler().pick(client, skipped == null ? List.of() : skipped);
            if (candidate == null) {
                return null;
            }
            if (candidate.tryAcquire()) {
                return candidate;
            }
            skip(candidate); // another event loop took its last free slot since the pick
        }
        return null;
    }

    private void skip(Backend backend) {
        if (skipped == null) {
            skipped = new ArrayList<>(2);
        }
        skipped.add(backend);
    }

    private void connected(ChannelHandlerContext ctx, Channel outbound, Backend backend, long connectNanos) {
        Channel inbound = ctx.channel();
        if (!inbound.isActive()) {
            outbound.close(); // the client left while we connected; its relay releases the endpoint's count
            return;
        }
        backend.recordEstablished(connectNanos);
        route.counters().record(Outcome.OK);
        outcome = Outcome.OK;
        chosen = backend;

        PortPolicy policy = route.policy();
        if (policy.proxyProtocol() != ProxyProtocol.NONE) {
            ChannelPipeline backendPipeline = outbound.pipeline();
            backendPipeline.addFirst(HAProxyMessageEncoder.INSTANCE);
            String uniqueId = policy.proxyProtocolUniqueId() ? inbound.id().asLongText() : null;
            outbound.write(ProxyHeaders.proxy(policy.proxyProtocol(), clientAddress, destination, uniqueId),
                    outbound.voidPromise());
            backendPipeline.remove(HAProxyMessageEncoder.INSTANCE);
        }

        ChannelPipeline pipeline = ctx.pipeline();
        clientSide = new TcpRelayHandler(outbound, backend, route.counters(), plane);
        backendSide = outbound.pipeline().get(TcpRelayHandler.class);
        if (!policy.idleTimeout().isZero()) {
            idleTimer = new IdleTimer(inbound, outbound, policy.idleTimeout().toNanos(), route.counters());
            clientSide.watch(idleTimer);
            backendSide.watch(idleTimer);
            idleTimer.start();
        }
        List<Object> sentEarly = early;
        early = null;
        if (sentEarly != null) {
            for (Object msg : sentEarly) {
                outbound.write(msg, outbound.voidPromise());
            }
        }
        pipeline.replace(this, "relay", clientSide);
        outbound.flush();
        outbound.config().setAutoRead(true);
        if (finEarly) {
            pipeline.fireUserEventTriggered(ChannelInputShutdownEvent.INSTANCE); // the relay passes the FIN on
        } else {
            TcpRelayHandler.setReading(inbound, outbound.isWritable()); // early bytes may fill it already
        }
    }

    /** Counts why the connection is not served and resets it. */
    private void refuse(Channel inbound, Outcome why) {
        route.counters().record(why);
        outcome = why;
        TcpRelayHandler.reset(inbound);
    }

    /**
     * One line for the connection log. A connection that ended with no outcome recorded here
     * either failed its PROXY header (counted by the header reader) or left before an endpoint
     * answered.
     */
    private void logClosed(Channel inbound) {
        String ended;
        if (outcome == Outcome.OK && idleTimer != null && idleTimer.expired()) {
            ended = Outcome.IDLE_TIMEOUT.label();
        } else if (outcome != null) {
            ended = outcome.label();
        } else if (route.policy().acceptProxyProtocol().enabled() && client == null) {
            ended = Outcome.BAD_PROXY_HEADER.label();
        } else {
            ended = ClosedConnection.CLIENT_LEFT;
        }
        plane.connectionLog().add(new ClosedConnection(Instant.now(), inbound.id().asLongText(), route.displayName(),
                clientAddress, destination, chosen == null ? null : chosen.address(),
                clientSide == null ? 0 : clientSide.relayed(), backendSide == null ? 0 : backendSide.relayed(),
                System.nanoTime() - acceptedNanos, ended));
    }
}

package dev.l4lb.netty.tcp;

import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.handler.ssl.SniCompletionEvent;
import io.netty.util.ReferenceCountUtil;
import org.jspecify.annotations.Nullable;

import dev.l4lb.core.model.AcceptProxyProtocol;
import dev.l4lb.core.model.ServerNames;
import dev.l4lb.core.sched.Backend;
import dev.l4lb.core.table.Admission;
import dev.l4lb.core.table.HelloRejection;
import dev.l4lb.core.table.Outcome;
import dev.l4lb.core.table.Route;
import dev.l4lb.core.table.ServerNameRoutes;
import dev.l4lb.netty.log.ClosedConnection;
import dev.l4lb.netty.log.ConnectionRecord;
import dev.l4lb.netty.proxyprotocol.ProxiedAddresses;
import dev.l4lb.netty.proxyprotocol.ProxyHeaderReader;

/**
 * The first moments of a client connection: find its route (on a listener shared by TLS server
 * name, from the name in the client's ClientHello, read by a {@link ClientHelloReader} whose bytes
 * are held like any sent early); when the port accepts PROXY headers,
 * refuse untrusted peers and read the header (which names the real client); then admit the client
 * ({@link Admission}) and hand it to a {@link BackendConnector}, holding what the client sends
 * meanwhile. Once an endpoint is connected, a {@link TcpRelay} takes this handler's place.
 */
final class TcpAcceptHandler extends ChannelInboundHandlerAdapter implements BackendConnector.Done {
    /** What the connection log says for a server name that could not be a DNS name (it is not repeated). */
    static final String IMPLAUSIBLE_NAME = "(invalid)";

    private final ListenerRouting routing;
    private final TcpDataPlane plane;

    private Channel inbound;
    private @Nullable Route route;
    /** The ports of a listener shared by server name, until the ClientHello picks one; else null. */
    private @Nullable ServerNameRoutes serverNames;
    /**
     * On a name-routed listener whose ports accept PROXY headers: the addresses the header named,
     * kept while the ClientHello that follows it is read.
     */
    private @Nullable ProxiedAddresses proxied;
    /** Set once the real client is known; its port slot is released when the client side closes. */
    private @Nullable Admission admission;
    private @Nullable BackendConnector connector;
    /**
     * Bytes the client sent before the backend was connected: a ClientHello read to route by its
     * name; what came in the same read as a PROXY header or a hello, or in one more read batch
     * asked for while they were read; or, with reads off, what epoll reads up to a FIN on RDHUP.
     * Bounded by a few read batches.
     */
    private @Nullable List<Object> early;
    private boolean finEarly;
    /** For the connection log; null while it is off. */
    private @Nullable ConnectionRecord record;
    /** The relay, kept for the connection log only: null while it is off. */
    private @Nullable TcpRelay relay;

    TcpAcceptHandler(ListenerRouting routing, TcpDataPlane plane) {
        this.routing = routing;
        this.plane = plane;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        inbound = ctx.channel();
        plane.clientOpened(inbound); // clientClosed() by this handler's channelInactive, or the client side's relay's
        if (routing.transparent() && plane.refusingTransparent()) {
            TcpRelayHandler.reset(inbound); // shutting down: refused while the others drain
            return;
        }
        InetSocketAddress destination = (InetSocketAddress) inbound.localAddress();
        route = plane.route(routing, destination);
        if (route == null) {
            // A listener shared by server name has no one route: looked up only then, so a
            // connection to any other listener pays no second lookup.
            serverNames = plane.serverNames(routing);
            if (serverNames != null) {
                readServerName(ctx, destination); // ...and the port is known on the SniCompletionEvent
                return;
            }
            plane.countUnrouted();
            TcpRelayHandler.reset(inbound);
            return;
        }
        InetSocketAddress peer = (InetSocketAddress) inbound.remoteAddress();
        if (plane.connectionLog().enabled()) {
            record = new ConnectionRecord(route.displayName(), peer, destination);
            inbound.closeFuture().addListener(f -> logClosed());
        }
        AcceptProxyProtocol accept = route.policy().acceptProxyProtocol();
        if (!accept.enabled()) {
            admit(peer, destination);
            return;
        }
        if (!accept.trusts(peer.getAddress())) {
            // Anyone else could name any client in a header, so they are not served at all.
            refuse(Outcome.UNTRUSTED_UPSTREAM);
            return;
        }
        ProxyHeaderReader.install(ctx.pipeline(), ctx.name(), route.counters(), accept.headerTimeout());
        // ...and admit() follows on the ProxiedAddresses event.
    }

    /**
     * A connection to a listener shared by server name: read the PROXY header first when its ports
     * accept one, then the ClientHello; the port is known on the {@link SniCompletionEvent}.
     */
    private void readServerName(ChannelHandlerContext ctx, InetSocketAddress destination) {
        InetSocketAddress peer = (InetSocketAddress) inbound.remoteAddress();
        if (plane.connectionLog().enabled()) {
            record = new ConnectionRecord("-", peer, destination);
            inbound.closeFuture().addListener(f -> logClosed());
        }
        // The ports on the listener agree on this (the config check): a balancer in front
        // sends its header first, and the ClientHello follows it.
        AcceptProxyProtocol accept = serverNames.acceptProxyProtocol();
        if (!accept.enabled()) {
            ClientHelloReader.install(ctx.pipeline(), ctx.name(), serverNames.clientHelloTimeout());
        } else if (!accept.trusts(peer.getAddress())) {
            rejectHello(HelloRejection.UNTRUSTED_UPSTREAM);
        } else {
            ProxyHeaderReader.install(ctx.pipeline(), ctx.name(), serverNames.rejections(), accept.headerTimeout());
        }
    }

    /**
     * From here on {@code client} is the real client everywhere: source ranges, affinity and
     * hashing, and the header sent onward.
     */
    private void admit(InetSocketAddress client, InetSocketAddress destination) {
        if (record != null) {
            record.client(client, destination);
        }
        admission = new Admission(route, client.getAddress(), client.getPort());
        Outcome refused = admission.admit();
        route = admission.route(); // the one for this client
        if (refused != null) {
            refuse(refused);
            return;
        }
        connector = new BackendConnector(inbound, admission, plane, client, destination, this);
        connector.connectNext();
    }

    @Override
    public void connected(Channel outbound, Backend backend) {
        route.counters().record(Outcome.OK);
        if (record != null) {
            record.outcome(Outcome.OK.label());
            record.endpoint(backend.address());
        }
        List<Object> sentEarly = early;
        early = null;
        // The client side's relay releases the port's slot from here on.
        relay = TcpRelay.start(this, inbound, outbound, backend, admission, plane, sentEarly, finEarly, record != null);
    }

    @Override
    public void refused(Outcome why) {
        Backend failed = admission.lastFailed();
        if (record != null && failed != null) {
            record.endpoint(failed.address()); // who refused the connect: the last one tried, when several were
        }
        refuse(why);
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
        if (evt instanceof ProxiedAddresses addresses && serverNames != null) {
            proxied = addresses;
            if (record != null) {
                record.client(addresses.client(), addresses.destination());
            }
            ClientHelloReader.install(ctx.pipeline(), ctx.name(), serverNames.clientHelloTimeout());
        } else if (evt instanceof ProxiedAddresses addresses) {
            admit(addresses.client(), addresses.destination());
        } else if (evt instanceof SniCompletionEvent hello) {
            helloRead(hello);
        } else if (evt instanceof ChannelInputShutdownEvent) {
            finEarly = true;
            if (serverNames != null && route == null && inbound.isActive()) {
                // Ended before a whole ClientHello (a TCP health check, a scanner): it can never
                // come now, so the connection is not held until clientHelloTimeout.
                rejectHello(HelloRejection.TRUNCATED);
            }
        } else {
            ctx.fireUserEventTriggered(evt);
        }
    }

    /** The ClientHello was read, or could not be: route by its name, or reset the connection. */
    private void helloRead(SniCompletionEvent hello) {
        if (serverNames == null || route != null || !inbound.isActive()) {
            return; // not routed by name, or settled already (a failed hello also closes, after this)
        }
        HelloRejection rejection = ClientHelloReader.rejection(hello);
        if (rejection == null) {
            String name = hello.hostname();
            if (record != null) {
                record.serverName(name == null || ServerNames.plausible(name) ? name : IMPLAUSIBLE_NAME);
            }
            // The listener's table now: a reload since the accept may have moved the name.
            ServerNameRoutes now = plane.serverNames(routing);
            if (now != null) {
                serverNames = now;
            }
            route = serverNames.lookup(name);
            if (route == null) {
                rejection = HelloRejection.NO_MATCH;
            }
        }
        if (rejection != null) {
            rejectHello(rejection);
            return;
        }
        if (record != null) {
            record.service(route.displayName());
        }
        if (proxied != null) {
            admit(proxied.client(), proxied.destination());
        } else {
            admit((InetSocketAddress) inbound.remoteAddress(), (InetSocketAddress) inbound.localAddress());
        }
    }

    /** Counts on the name-routed listener why no port took the connection, and resets it. */
    private void rejectHello(HelloRejection why) {
        serverNames.rejections().record(why);
        if (record != null) {
            record.outcome(why.label());
        }
        TcpRelayHandler.reset(inbound);
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
        if (admission != null) {
            admission.release();
        }
        if (connector != null) {
            connector.abandon(); // a client that leaves while we connect takes the half-made backend connection with it
        }
        ctx.fireChannelInactive();
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        // Closed before a backend was reached: nothing will forward these.
        if (early != null) {
            early.forEach(ReferenceCountUtil::release);
            early = null;
        }
    }

    /** Counts why the connection is not served and resets it. */
    private void refuse(Outcome why) {
        route.counters().record(why);
        if (record != null) {
            record.outcome(why.label());
        }
        TcpRelayHandler.reset(inbound);
    }

    /**
     * One line for the connection log. A connection that ended with no outcome recorded here
     * either failed its PROXY header (counted by the header reader) or left before an endpoint
     * answered.
     */
    private void logClosed() {
        String ended;
        if (relay != null && relay.idleExpired()) {
            ended = Outcome.IDLE_TIMEOUT.label();
        } else if (record.outcome() != null) {
            ended = record.outcome();
        } else if (headerExpected() && admission == null && proxied == null) {
            ended = Outcome.BAD_PROXY_HEADER.label();
        } else {
            ended = ClosedConnection.CLIENT_LEFT;
        }
        plane.connectionLog().add(record.closed(inbound.id().asLongText(),
                relay == null ? 0 : relay.clientSide().relayed(), relay == null ? 0 : relay.backendSide().relayed(), ended));
    }

    /** Whether the connection starts with a PROXY header: its listener's ports, or its port, accept one. */
    private boolean headerExpected() {
        AcceptProxyProtocol accept = serverNames != null ? serverNames.acceptProxyProtocol()
                : route != null ? route.policy().acceptProxyProtocol() : AcceptProxyProtocol.OFF;
        return accept.enabled();
    }
}

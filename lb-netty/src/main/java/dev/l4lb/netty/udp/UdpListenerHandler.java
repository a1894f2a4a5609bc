package dev.l4lb.netty.udp;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.DatagramPacket;
import io.netty.util.ReferenceCountUtil;
import org.jspecify.annotations.Nullable;

import dev.l4lb.core.sched.Backend;
import dev.l4lb.core.table.Admission;
import dev.l4lb.core.table.DatagramDrop;
import dev.l4lb.core.table.Outcome;
import dev.l4lb.core.table.PortCounters;
import dev.l4lb.core.table.Route;

/**
 * One UDP listener socket: finds each datagram's session by its sender, opening one for a new
 * client (its {@link Admission}, as for a TCP connection), and hands the datagram to it. The session table is this socket's alone, so it
 * needs no lock: the socket and its sessions live on one event loop.
 */
final class UdpListenerHandler extends ChannelInboundHandlerAdapter {
    private final InetSocketAddress listener;
    private final UdpDataPlane plane;
    private final Map<InetSocketAddress, UdpSession> sessions = new HashMap<>();
    /** Sessions that got datagrams in this read batch: flushed once, at its end. */
    private final List<UdpSession> written = new ArrayList<>();

    UdpListenerHandler(InetSocketAddress listener, UdpDataPlane plane) {
        this.listener = listener;
        this.plane = plane;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!(msg instanceof DatagramPacket packet)) {
            ReferenceCountUtil.release(msg);
            return;
        }
        InetSocketAddress client = packet.sender();
        UdpSession session = sessions.get(client);
        if (session == null) {
            session = open(ctx, client);
            if (session == null) {
                packet.release();
                return;
            }
        }
        if (session.send(packet.content()) && !session.markWritten()) {
            written.add(session);
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        for (int i = 0; i < written.size(); i++) {
            written.get(i).flush();
        }
        written.clear();
    }

    /** The listener closed (its port left the config, or shutdown): its sessions cannot answer any more. */
    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        for (UdpSession session : new ArrayList<>(sessions.values())) {
            session.close(UdpSession.LISTENER_CLOSED);
        }
        ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        // A send error on the listener socket (e.g. ICMP from a client that left): one datagram
        // lost, nothing to end.
    }

    /** Forgets a session that has closed. */
    void closed(UdpSession session) {
        sessions.remove(session.client(), session);
    }

    /** Sessions open on this socket now (tests). */
    int sessionCount() {
        return sessions.size();
    }

    private @Nullable UdpSession open(ChannelHandlerContext ctx, InetSocketAddress client) {
        Route route = plane.route(listener);
        if (route == null) {
            return null; // a listener the config no longer has, in its last microseconds
        }
        Admission admission = new Admission(route, client.getAddress(), client.getPort());
        Outcome refused = admission.admit(); // REFUSED_LIMIT: the session table is full
        if (refused != null) {
            return refuse(admission.route().counters(), refused);
        }
        Backend backend = admission.next();
        if (backend == null) {
            admission.release();
            return refuse(admission.route().counters(), admission.refusal());
        }
        admission.route().counters().record(Outcome.OK);
        UdpSession session = new UdpSession(this, plane, admission, backend, client, listener, ctx.channel());
        sessions.put(client, session);
        try {
            session.open();
        } catch (RuntimeException e) {
            session.close(null); // e.g. the event loop is shutting down: give back what was counted
            return null;
        }
        return session;
    }

    /**
     * After a reload: ends the sessions whose endpoint the port no longer has, or whose client its
     * source ranges no longer allow. A client that keeps sending would otherwise keep a session
     * to a removed endpoint forever, and in Kubernetes a removed pod's address is soon another
     * pod's (kube-proxy deletes such UDP conntrack entries for the same reason).
     */
    void prune() {
        Route route = plane.route(listener);
        for (UdpSession session : new ArrayList<>(sessions.values())) {
            InetAddress client = session.client().getAddress();
            if (route == null || !route.policy().allowsSource(client)
                    || !hasEndpoint(route.forClient(client), session.backend())) {
                session.close(UdpSession.RELOADED_AWAY);
            }
        }
    }

    private static boolean hasEndpoint(Route route, Backend backend) {
        for (Backend b : route.backends()) {
            if (b.address().equals(backend.address())) {
                return b.endpoint().serving();
            }
        }
        return false;
    }

    private static @Nullable UdpSession refuse(PortCounters counters, Outcome why) {
        counters.record(why);
        counters.drop(DatagramDrop.REFUSED);
        return null;
    }
}

package dev.l4lb.netty.tcp;

import java.util.List;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import org.jspecify.annotations.Nullable;

import dev.l4lb.core.model.PortPolicy;
import dev.l4lb.core.sched.Backend;
import dev.l4lb.core.table.Admission;
import dev.l4lb.core.table.Route;

/**
 * A client connection and its endpoint's, relayed both ways: the two {@link TcpRelayHandler}s and
 * the idle timer they share when the port has one.
 *
 * @param clientSide  what the client sends, relayed to the endpoint
 * @param backendSide what the endpoint sends, relayed to the client
 * @param idleTimer   null when the port has no idleTimeout
 */
record TcpRelay(TcpRelayHandler clientSide, TcpRelayHandler backendSide, @Nullable IdleTimer idleTimer) {
    /**
     * Starts relaying between {@code inbound} and the connected {@code outbound}: the client side's
     * handler takes {@code replaced}'s place, what the client sent early ({@code early}, and its
     * FIN when {@code finEarly}) goes first, then both sides read.
     *
     * @param logged whether the connection log will ask about this relay at its close
     * @return the relay when {@code logged}, else null: nothing per connection is kept for a log that is off
     */
    static @Nullable TcpRelay start(ChannelHandler replaced, Channel inbound, Channel outbound, Backend backend,
                                    Admission admission, TcpDataPlane plane, @Nullable List<Object> early, boolean finEarly,
                                    boolean logged) {
        Route route = admission.route();
        PortPolicy policy = route.policy();
        TcpRelayHandler clientSide = new TcpRelayHandler(outbound, backend, route.counters(), plane, admission);
        TcpRelayHandler backendSide = outbound.pipeline().get(TcpRelayHandler.class);
        IdleTimer idleTimer = null;
        if (!policy.idleTimeout().isZero()) {
            idleTimer = new IdleTimer(inbound, outbound, policy.idleTimeout().toNanos(), route.counters());
            clientSide.watch(idleTimer);
            backendSide.watch(idleTimer);
            idleTimer.start();
        }
        if (early != null) {
            for (Object msg : early) {
                outbound.write(msg, outbound.voidPromise());
            }
        }
        ChannelPipeline pipeline = inbound.pipeline();
        pipeline.replace(replaced, "relay", clientSide);
        outbound.flush();
        outbound.config().setAutoRead(true);
        if (finEarly) {
            pipeline.fireUserEventTriggered(ChannelInputShutdownEvent.INSTANCE); // the relay passes the FIN on
        } else {
            TcpRelayHandler.setReading(inbound, outbound.isWritable()); // early bytes may fill it already
        }
        return logged ? new TcpRelay(clientSide, backendSide, idleTimer) : null;
    }

    /** Whether the connection was closed for being idle. */
    boolean idleExpired() {
        return idleTimer != null && idleTimer.expired();
    }
}

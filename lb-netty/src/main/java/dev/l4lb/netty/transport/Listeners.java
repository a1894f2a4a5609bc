package dev.l4lb.netty.transport;

import java.io.IOException;
import java.net.DatagramSocket;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import io.netty.bootstrap.AbstractBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.util.concurrent.EventExecutor;

import dev.l4lb.core.model.Addresses;
import dev.l4lb.core.model.Protocol;
import dev.l4lb.core.table.Route;
import dev.l4lb.core.table.ServiceSnapshot;

/**
 * The listener sockets of one protocol, changed without dropping anything: a reload {@link
 * #prepare prepares} the listeners the next snapshot adds (bound, not reading yet: the kernel
 * queues what arrives), the balancer switches its {@link dev.l4lb.core.table.RoutingTable} to
 * that snapshot, and then these {@link #switchTo switch}: the new listeners start reading and the
 * ones it no longer has are closed. Listeners that stay are never touched.
 */
public final class Listeners {
    /** How a protocol sets up one listener socket. */
    @FunctionalInterface
    public interface Binder {
        /**
         * A bootstrap for one socket on {@code address} served by {@code loops}, not reading yet
         * (AUTO_READ off); this class adds SO_REUSEPORT and binds it.
         */
        AbstractBootstrap<?, ?> bootstrap(EventLoopGroup loops, InetSocketAddress address);
    }

    /**
     * Listeners bound for a snapshot that is not in force yet, and not reading.
     *
     * @param added   the new listeners' sockets by address
     * @param removed addresses bound now that the next snapshot does not have
     */
    public record Prepared(Map<InetSocketAddress, List<Channel>> added, Set<InetSocketAddress> removed) {
    }

    private final Protocol protocol;
    private final Transport transport;
    private final EventLoopGroup group;
    private final Binder binder;
    private final Map<InetSocketAddress, List<Channel>> bound = new LinkedHashMap<>();
    /** Every socket in {@link #bound}, rewritten under the lock on each change and read without it. */
    private volatile List<Channel> sockets = List.of();

    public Listeners(Protocol protocol, Transport transport, EventLoopGroup group, Binder binder) {
        this.protocol = protocol;
        this.transport = transport;
        this.group = group;
        this.binder = binder;
    }

    /**
     * Binds the listeners of this protocol {@code next} has and these do not, not reading yet.
     * On any failure, closes what it bound and throws: nothing changes then.
     */
    public synchronized Prepared prepare(ServiceSnapshot next) throws BindFailure {
        Set<InetSocketAddress> wanted = new LinkedHashSet<>();
        for (Route route : next.routes()) {
            if (route.port().protocol() == protocol) {
                wanted.addAll(route.port().listen());
            }
        }
        Set<InetSocketAddress> removed = new LinkedHashSet<>(bound.keySet());
        removed.removeAll(wanted);
        Map<InetSocketAddress, List<Channel>> added = new LinkedHashMap<>();
        for (Route route : next.routes()) {
            if (route.port().protocol() != protocol) {
                continue;
            }
            for (InetSocketAddress address : route.port().listen()) {
                if (bound.containsKey(address) || added.containsKey(address)) {
                    continue;
                }
                try {
                    added.put(address, bind(address, overlapping(address, removed)));
                } catch (Exception e) {
                    added.forEach(this::closeAndAwait);
                    throw new BindFailure(address, route.displayName(), e);
                }
            }
        }
        return new Prepared(added, removed);
    }

    /**
     * Once the snapshot {@code prepared} was made for is in force: starts reading on the prepared
     * listeners and closes the ones it no longer has.
     */
    public synchronized void switchTo(Prepared prepared) {
        prepared.added().forEach((address, channels) -> {
            bound.put(address, channels);
            channels.forEach(ch -> ch.config().setAutoRead(true));
        });
        for (InetSocketAddress address : prepared.removed()) {
            closeAndAwait(address, bound.remove(address));
        }
        sockets = channels();
    }

    /** Closes listeners prepared for a snapshot that will not be applied. */
    public synchronized void abandon(Prepared prepared) {
        prepared.added().forEach(this::closeAndAwait);
    }

    /** The addresses listened on now. */
    public synchronized Set<InetSocketAddress> addresses() {
        return Set.copyOf(bound.keySet());
    }

    /** Every listener socket bound now. */
    public synchronized List<Channel> channels() {
        return bound.values().stream().flatMap(List::stream).toList();
    }

    /**
     * Every listener socket bound now, without taking this object's lock: for the event loops,
     * which must never wait on it (a reload or shutdown holding it waits on them).
     */
    public List<Channel> socketsNow() {
        return sockets;
    }

    /** Listener sockets bound now. */
    public synchronized int socketCount() {
        return bound.values().stream().mapToInt(List::size).sum();
    }

    /** Closes every listener. */
    public synchronized void closeAll() {
        sockets = List.of();
        bound.forEach(this::closeAndAwait);
        bound.clear();
    }

    /**
     * One socket, or with SO_REUSEPORT one per event loop, so that each loop serves its own share
     * and a connection or session stays on the loop that took it in. SO_REUSEPORT would also let
     * anyone else who sets it share the port and silently split our traffic, so a plain bind first
     * checks that nobody holds the address (unless it is our own listener being replaced).
     */
    private List<Channel> bind(InetSocketAddress address, boolean besideOurOwn) throws Exception {
        List<Channel> bound = new ArrayList<>();
        try {
            ChannelOption<Boolean> reusePort = transport.reusePortOption();
            if (reusePort == null) {
                bound.add(binder.bootstrap(group, address).bind(address).sync().channel());
                return bound;
            }
            if (!besideOurOwn) {
                probe(address);
            }
            for (EventExecutor loop : group) {
                bound.add(binder.bootstrap((EventLoop) loop, address).option(reusePort, true).bind(address).sync().channel());
            }
            return bound;
        } catch (Exception e) {
            bound.forEach(ch -> ch.close().syncUninterruptibly());
            throw e;
        }
    }

    /** Throws when something holds {@code address}: a plain bind of this protocol fails. */
    private void probe(InetSocketAddress address) throws IOException {
        if (protocol == Protocol.TCP) {
            try (ServerSocket probe = new ServerSocket()) {
                probe.bind(address, 1);
            }
        } else {
            try (DatagramSocket probe = new DatagramSocket(null)) {
                probe.setReuseAddress(false);
                probe.bind(address);
            }
        }
    }

    /**
     * Whether {@code address} shares its port with a listener of ours that this reload removes
     * (127.0.0.1:80 widened to 0.0.0.0:80, or the reverse): then the new one is bound beside the
     * old one, which SO_REUSEPORT allows, rather than probed for and found taken by ourselves.
     */
    private boolean overlapping(InetSocketAddress address, Set<InetSocketAddress> removed) throws IOException {
        boolean overlap = false;
        for (InetSocketAddress ours : bound.keySet()) {
            boolean samePort = ours.getPort() == address.getPort() && (ours.getAddress().equals(address.getAddress())
                    || ours.getAddress().isAnyLocalAddress() || address.getAddress().isAnyLocalAddress());
            if (!samePort) {
                continue;
            }
            if (!removed.contains(ours)) {
                throw new IOException("it overlaps this balancer's listener " + Addresses.format(ours) + ", which stays");
            }
            overlap = true;
        }
        if (overlap && transport.reusePortOption() == null) {
            throw new IOException("it replaces this balancer's listener on the same port, which the " + transport.displayName()
                    + " transport cannot hold open beside it (no SO_REUSEPORT): restart to apply this change");
        }
        return overlap;
    }

    /**
     * Closes an address's listeners and returns once the kernel no longer takes traffic there.
     * On NIO, Netty's close completes before the socket is really closed (the JDK closes a
     * registered channel only at its selector's next select), so a plain bind probes for the
     * moment it is gone. The native transports close at once (and may share the port with a
     * wildcard listener of ours, which a probe would meet).
     */
    private void closeAndAwait(InetSocketAddress address, List<Channel> channels) {
        for (Channel listener : channels) {
            listener.close().syncUninterruptibly();
        }
        if (transport.reusePortOption() != null) {
            return;
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
        while (System.nanoTime() < deadline) {
            try {
                probe(address);
                return;
            } catch (IOException stillBound) {
                // the selector has not run yet; or someone else took the port: give up at the deadline
            }
            try {
                Thread.sleep(1);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }
}

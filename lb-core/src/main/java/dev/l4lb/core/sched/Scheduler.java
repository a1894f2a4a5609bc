package dev.l4lb.core.sched;

import java.net.InetAddress;

/**
 * Chooses the endpoint for each new connection of one service port. One instance serves every
 * event loop at once, so implementations are lock-free and allocate nothing on a pick.
 *
 * <p>The family this is shaped for: round-robin and weighted round-robin (ignore the client),
 * least-connection kinds (read {@link EndpointCounters#active()}, kept up to date through
 * {@link #opened} and {@link #closed}), and hashing kinds (source hashing, Maglev) that use the
 * client address.
 */
public interface Scheduler {

    /**
     * The endpoint for a new connection from {@code client}, or {@code null} when no endpoint can
     * take one. Calling again after a failed connect gives the next choice.
     */
    Backend pick(InetAddress client);

    /** A connection to {@code backend} was established. */
    default void opened(Backend backend) {
        backend.counters().recordOpened();
    }

    /** A connection that {@link #opened} reported has ended. */
    default void closed(Backend backend) {
        backend.counters().recordClosed();
    }

    /** A connect attempt from {@code client} to {@code backend} failed; the next pick should avoid it. */
    default void connectFailed(Backend backend, InetAddress client) {
        backend.counters().recordConnectFailure();
    }
}

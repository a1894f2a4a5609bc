package dev.l4lb.core.sched;

import java.net.InetAddress;
import java.util.List;

import org.jspecify.annotations.Nullable;

/**
 * Chooses the endpoint for each new connection of one service port. One instance serves every
 * event loop at once, so implementations are lock-free and allocate nothing on a pick.
 *
 * <p>A pick skips endpoints that are at their {@code maxConnections} and the ones in
 * {@code excluded}: the endpoints that already failed this connection, so that a retry after a
 * failed connect goes elsewhere, hashing schedulers included (they move on to the next endpoint
 * of their table, as IPVS's {@code sh-fallback} and {@code mh-fallback} do). The caller then
 * claims the endpoint with {@link Backend#tryAcquire()}; a claim that loses a race with another
 * event loop for an endpoint's last free slot simply picks again with that endpoint excluded.
 */
public interface Scheduler {

    /**
     * The endpoint for a new connection from {@code client}, or {@code null} when no eligible
     * endpoint outside {@code excluded} has room.
     *
     * @param client   the real client address (hashing schedulers and affinity key on it)
     * @param excluded endpoints not to choose; {@code List.of()} on a first try
     */
    @Nullable Backend pick(InetAddress client, List<Backend> excluded);

    /**
     * As {@link #pick(InetAddress, List)}, with the client's source port, which a hashing
     * scheduler keyed on {@link dev.l4lb.core.model.HashKey#CLIENT_IP_PORT} hashes too; the others
     * ignore it.
     */
    default @Nullable Backend pick(InetAddress client, int clientPort, List<Backend> excluded) {
        return pick(client, excluded);
    }

    /** A first try: {@code pick(client, List.of())}. */
    default @Nullable Backend pick(InetAddress client) {
        return pick(client, List.of());
    }

    /** A connect from {@code client} to {@code backend}, which this scheduler picked, failed. */
    default void connectFailed(Backend backend, InetAddress client) {
        backend.recordConnectFailure();
    }

    /** May any endpoint take new connections at all (ignoring limits)? */
    boolean hasEligible();

    /**
     * Puts this scheduler in service, once, when the snapshot holding it is applied: schedulers
     * that follow the endpoints' counts (lc, wlc, sed, nq) start following them here rather than
     * when built, so a snapshot that is built but never applied leaves the one in force intact.
     */
    default void activate() {
    }
}

package dev.l4lb.core.affinity;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.jspecify.annotations.Nullable;

import dev.l4lb.core.sched.Backend;
import dev.l4lb.core.sched.Eligibility;
import dev.l4lb.core.sched.Scheduler;

/**
 * Kubernetes' {@code sessionAffinity: ClientIP} on top of any scheduler: a client IP keeps its
 * endpoint while it opens a new connection at least every timeout (what kube-proxy's
 * {@code recent --rcheck --seconds --reap} and IPVS {@code persistent} give). A client whose
 * endpoint was removed, drained, became unready or is full is picked for anew by the scheduler,
 * and its entry overwritten.
 */
public final class ClientIpAffinity implements Scheduler {
    private final Scheduler scheduler;
    private final AffinityTable table;
    /** The endpoints that may take new connections now, by address (entries hold addresses). */
    private final Map<InetSocketAddress, Backend> eligible;

    /**
     * @param scheduler chooses for clients without a usable entry
     * @param backends  the port's backends in this snapshot
     * @param table     the port's table; the previous snapshot's, when its settings are unchanged
     */
    public ClientIpAffinity(Scheduler scheduler, List<Backend> backends, AffinityTable table) {
        this.scheduler = scheduler;
        this.table = table;
        Backend[] candidates = Eligibility.eligible(backends);
        this.eligible = new HashMap<>(candidates.length * 2);
        for (Backend backend : candidates) {
            eligible.put(backend.address(), backend);
        }
    }

    @Override
    public @Nullable Backend pick(InetAddress client, List<Backend> excluded) {
        return pick(client, 0, excluded);
    }

    /** The entry is the client address's; its first connection's port chose the endpoint. */
    @Override
    public @Nullable Backend pick(InetAddress client, int clientPort, List<Backend> excluded) {
        InetSocketAddress held = table.get(client);
        if (held != null) {
            Backend sticky = eligible.get(held);
            if (sticky != null && Eligibility.usable(sticky, excluded)) {
                return sticky;
            }
        }
        Backend chosen = scheduler.pick(client, clientPort, excluded);
        if (chosen != null) {
            table.put(client, chosen.address());
        }
        // With no choice (every endpoint full, say) the entry stays: the client keeps its
        // endpoint once that has room again.
        return chosen;
    }

    @Override
    public void connectFailed(Backend backend, InetAddress client) {
        // Forget the failed choice, so the retry asks the scheduler instead of the dead endpoint.
        table.remove(client, backend.address());
        scheduler.connectFailed(backend, client);
    }

    @Override
    public boolean hasEligible() {
        return scheduler.hasEligible();
    }

    @Override
    public void activate() {
        scheduler.activate();
    }

    /** The table, to hand on to the next snapshot and to report its size and evictions. */
    public AffinityTable table() {
        return table;
    }

    @Override
    public String toString() {
        return "ClientIpAffinity" + eligible.keySet();
    }
}

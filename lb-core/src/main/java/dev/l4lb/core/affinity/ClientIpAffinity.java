package dev.l4lb.core.affinity;

import java.net.InetAddress;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;

import dev.l4lb.core.sched.Backend;
import dev.l4lb.core.sched.Eligibility;
import dev.l4lb.core.sched.Scheduler;

/**
 * Kubernetes' {@code sessionAffinity: ClientIP} on top of any scheduler: a client IP keeps its
 * endpoint while it opens a new connection at least every {@code timeout} (what kube-proxy's
 * {@code recent --rcheck --seconds} and IPVS {@code persistent} give). The table is a bounded
 * Caffeine cache, so a flood of clients evicts old entries instead of growing without limit.
 */
public final class ClientIpAffinity implements Scheduler {
    /** Default bound of one port's table. */
    public static final long DEFAULT_MAX_ENTRIES = 1_000_000;

    private final Scheduler scheduler;
    private final Backend[] eligible;
    private final Cache<InetAddress, Backend> table;

    /**
     * @param scheduler  chooses for clients without a (usable) entry
     * @param backends   the port's backends, to know which may still take connections
     * @param timeout    how long an entry lives after the client's last new connection
     * @param maxEntries the table's bound
     */
    public ClientIpAffinity(Scheduler scheduler, List<Backend> backends, Duration timeout, long maxEntries) {
        this.scheduler = scheduler;
        this.eligible = Eligibility.eligible(backends);
        this.table = Caffeine.newBuilder().expireAfterAccess(timeout).maximumSize(maxEntries).build();
    }

    @Override
    public Backend pick(InetAddress client) {
        Backend held = table.getIfPresent(client);
        if (held != null && isEligible(held)) {
            return held;
        }
        Backend chosen = scheduler.pick(client);
        if (chosen != null) {
            table.put(client, chosen);
        } else if (held != null) {
            table.invalidate(client);
        }
        return chosen;
    }

    @Override
    public void opened(Backend backend) {
        scheduler.opened(backend);
    }

    @Override
    public void closed(Backend backend) {
        scheduler.closed(backend);
    }

    @Override
    public void connectFailed(Backend backend, InetAddress client) {
        // Forget the failed choice, so the retry asks the scheduler instead of the dead endpoint.
        table.asMap().remove(client, backend);
        scheduler.connectFailed(backend, client);
    }

    /** Entries now (approximate while entries expire). */
    public long size() {
        return table.estimatedSize();
    }

    private boolean isEligible(Backend backend) {
        Backend[] candidates = eligible;
        for (Backend candidate : candidates) {
            if (candidate == backend) {
                return true;
            }
        }
        return false;
    }

    @Override
    public String toString() {
        return "ClientIpAffinity" + Arrays.toString(eligible);
    }
}

package dev.l4lb.core.sched;

import java.util.List;

import org.jspecify.annotations.Nullable;

import dev.l4lb.core.model.Endpoint;

/**
 * Which endpoints may take new connections, by Kubernetes' rules: the ready ones; when none is
 * ready, the ones that are serving while terminating (the terminating-endpoint fallback, so a
 * rolling update does not blackhole a service). Weight 0 drains an endpoint in both cases.
 */
public final class Eligibility {
    private Eligibility() {
    }

    /** The endpoints new connections may go to, in config order. */
    public static Backend[] eligible(List<Backend> backends) {
        Backend[] ready = backends.stream().filter(Backend::acceptsNew).toArray(Backend[]::new);
        if (ready.length > 0) {
            return ready;
        }
        return backends.stream().filter(Backend::servingTerminating).toArray(Backend[]::new);
    }

    /**
     * Could any of {@code endpoints} take a new connection by these rules: a ready one, or else a
     * serving terminating one? What a kernel rule that refuses a port without endpoints asks,
     * before any {@link Backend} exists; live health and limits are the data plane's to judge.
     */
    public static boolean anyEligible(List<Endpoint> endpoints) {
        return endpoints.stream().anyMatch(e -> acceptsNew(e) || servingTerminating(e));
    }

    /** May this endpoint take new connections under Kubernetes' rules (ready, weight above 0)? */
    static boolean acceptsNew(Endpoint endpoint) {
        return endpoint.ready() && endpoint.weight() > 0;
    }

    /** Usable in the terminating fallback: serving although terminating, and not drained. */
    static boolean servingTerminating(Endpoint endpoint) {
        return endpoint.serving() && endpoint.terminating() && endpoint.weight() > 0;
    }

    /** Can {@code backend} take this connection: in service, not excluded, and below its limit? */
    public static boolean usable(Backend backend, List<Backend> excluded) {
        return backend.inService() && backend.hasRoom() && (excluded.isEmpty() || !contains(excluded, backend));
    }

    /**
     * The first usable backend from position {@code start} on, wrapping around, or null: where a
     * scheduler's own choice is excluded or full, the connection goes to the next one in order.
     */
    static @Nullable Backend firstUsable(Backend[] candidates, int start, List<Backend> excluded) {
        int n = candidates.length;
        for (int i = 0; i < n; i++) {
            Backend candidate = candidates[(start + i) % n];
            if (usable(candidate, excluded)) {
                return candidate;
            }
        }
        return null;
    }

    /** Identity search: the list holds at most one entry per endpoint of this port. */
    private static boolean contains(List<Backend> list, Backend backend) {
        for (int i = 0, n = list.size(); i < n; i++) {
            if (list.get(i) == backend) {
                return true;
            }
        }
        return false;
    }

    /** The greatest common divisor of the weights, so that 2,4,6 runs as 1,2,3. */
    static int weightGcd(Backend[] backends) {
        int gcd = 0;
        for (Backend backend : backends) {
            gcd = gcd(gcd, backend.weight());
        }
        return Math.max(gcd, 1);
    }

    private static int gcd(int a, int b) {
        while (b != 0) {
            int t = a % b;
            a = b;
            b = t;
        }
        return a;
    }
}

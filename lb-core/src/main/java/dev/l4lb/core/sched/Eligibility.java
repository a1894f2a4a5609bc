package dev.l4lb.core.sched;

import java.util.List;

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
}

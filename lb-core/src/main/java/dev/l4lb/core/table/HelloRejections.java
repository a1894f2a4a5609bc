package dev.l4lb.core.table;

import java.util.concurrent.atomic.LongAdder;

/**
 * Connections one name-routed listener reset before any port took them, by {@link HelloRejection}.
 * Kept across reloads for as long as the listener stays name-routed, so the counts only grow.
 */
public final class HelloRejections implements ProxyHeaderCounts {
    private final LongAdder[] counts = new LongAdder[HelloRejection.values().length];

    public HelloRejections() {
        for (int i = 0; i < counts.length; i++) {
            counts[i] = new LongAdder();
        }
    }

    public void record(HelloRejection why) {
        counts[why.ordinal()].increment();
    }

    /** A PROXY header before the ClientHello was rejected: counted as {@link HelloRejection#BAD_PROXY_HEADER}. */
    @Override
    public void headerRejected(HeaderRejection why) {
        record(HelloRejection.BAD_PROXY_HEADER);
    }

    public long count(HelloRejection why) {
        return counts[why.ordinal()].sum();
    }
}

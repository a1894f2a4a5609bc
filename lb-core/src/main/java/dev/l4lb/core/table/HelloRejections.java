package dev.l4lb.core.table;

import java.util.concurrent.atomic.LongAdder;

/**
 * Connections one name-routed listener reset before any port took them, by {@link HelloRejection}.
 * Kept across reloads for as long as the listener stays name-routed, so the counts only grow.
 */
public final class HelloRejections {
    private final LongAdder[] counts = new LongAdder[HelloRejection.values().length];

    public HelloRejections() {
        for (int i = 0; i < counts.length; i++) {
            counts[i] = new LongAdder();
        }
    }

    public void record(HelloRejection why) {
        counts[why.ordinal()].increment();
    }

    public long count(HelloRejection why) {
        return counts[why.ordinal()].sum();
    }
}

package dev.l4lb.core.affinity;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;

import com.github.benmanes.caffeine.cache.Ticker;

/** A clock the test moves by hand, so expiry is asserted at exact instants and never slept for. */
final class FakeTicker implements Ticker {
    /** Not 0, so nothing can pass by treating "never set" and "now" alike. */
    private final AtomicLong nanos = new AtomicLong(Duration.ofDays(1).toNanos());

    @Override
    public long read() {
        return nanos.get();
    }

    void advance(Duration by) {
        nanos.addAndGet(by.toNanos());
    }
}

package dev.l4lb.core.affinity;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.time.Duration;

import org.junit.jupiter.api.Test;

class AffinityTableTest {
    private static final Duration TIMEOUT = Duration.ofSeconds(60);
    private static final Duration NANO = Duration.ofNanos(1);

    private final FakeTicker ticker = new FakeTicker();
    private final InetSocketAddress endpoint = endpoint(1);

    @Test
    void anEntryLivesTimeoutAfterItsLastReadNotAfterItsInsert() throws Exception {
        AffinityTable table = table(1000);
        InetAddress client = client(1);
        table.put(client, endpoint);

        ticker.advance(TIMEOUT.minus(NANO));
        table.cleanUp(); // size() is checked after cleanUp so that looking does not refresh the entry
        assertThat(table.size()).as("1 ns before the timeout").isEqualTo(1);
        assertThat(table.get(client)).isEqualTo(endpoint); // a read: the timeout starts again from here

        ticker.advance(TIMEOUT.minus(NANO));
        table.cleanUp();
        assertThat(table.size()).as("almost twice the timeout after the insert, but not after the read").isEqualTo(1);

        ticker.advance(NANO.multipliedBy(2));
        table.cleanUp();
        assertThat(table.size()).as("1 ns after the timeout since the last read").isZero();
        assertThat(table.get(client)).isNull();
    }

    @Test
    void anExpiredEntryIsNotReturnedEvenBeforeCleanUp() throws Exception {
        AffinityTable table = table(1000);
        InetAddress client = client(1);
        table.put(client, endpoint);

        ticker.advance(TIMEOUT.plus(NANO));

        assertThat(table.get(client)).isNull();
    }

    @Test
    void theSizeBoundHoldsAndEveryEvictionIsCounted() throws Exception {
        AffinityTable table = table(100);
        for (int i = 0; i < 10_000; i++) {
            table.put(client(i), endpoint);
        }
        table.cleanUp();

        assertThat(table.size()).isLessThanOrEqualTo(100);
        assertThat(table.evictions()).isPositive();
        // Nothing expired (the clock did not move), so every entry not in the table was evicted for size.
        assertThat(table.evictions() + table.size()).isEqualTo(10_000);
        assertThat(table.maxEntries()).isEqualTo(100);
    }

    @Test
    void expiryIsNotCountedAsEviction() throws Exception {
        AffinityTable table = table(100);
        for (int i = 0; i < 50; i++) {
            table.put(client(i), endpoint);
        }
        ticker.advance(TIMEOUT.plus(NANO));
        table.cleanUp();

        assertThat(table.size()).isZero();
        assertThat(table.evictions()).isZero();
    }

    @Test
    void removeWithAnEndpointRemovesOnlyAMatchingEntry() throws Exception {
        AffinityTable table = table(100);
        InetAddress client = client(1);
        table.put(client, endpoint);

        table.remove(client, endpoint(2));
        assertThat(table.get(client)).isEqualTo(endpoint);

        table.remove(client, endpoint);
        assertThat(table.get(client)).isNull();
    }

    @Test
    void fitsOnlyTheSameTimeoutAndBound() {
        AffinityTable table = new AffinityTable(TIMEOUT, 100);

        assertThat(table.fits(Duration.ofSeconds(60), 100)).isTrue();
        assertThat(table.fits(Duration.ofSeconds(61), 100)).isFalse();
        assertThat(table.fits(TIMEOUT, 101)).isFalse();
    }

    private AffinityTable table(long maxEntries) {
        return new AffinityTable(TIMEOUT, maxEntries, ticker, Runnable::run);
    }

    private static InetSocketAddress endpoint(int host) {
        return new InetSocketAddress(InetAddress.getLoopbackAddress(), 9000 + host);
    }

    /** A distinct IPv4 client per n up to 2^24. */
    static InetAddress client(int n) throws UnknownHostException {
        return InetAddress.getByAddress(new byte[] {10, (byte) (n >>> 16), (byte) (n >>> 8), (byte) n});
    }
}

package dev.l4lb.core.limits;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import dev.l4lb.core.model.ClientLimits;
import dev.l4lb.core.model.Rate;

/**
 * The client table: its bound, its keys, its eviction, and its counts under contention. (The
 * Caffeine table ClientLimitBenchmark measures beside it lives with the benchmark.)
 */
class ClientTableTest {
    private static final long NOW = 1_000_000_000L;
    private static final Rate ONE_A_MINUTE = new Rate(1, TimeUnit.MINUTES);

    enum Implementation {
        STRIPED(StripedClientTable::new);

        final Function<ClientLimits, ClientTable> create;

        Implementation(Function<ClientLimits, ClientTable> create) {
            this.create = create;
        }
    }

    @ParameterizedTest
    @EnumSource(Implementation.class)
    void aClientHoldsAtMostItsConnectionsAndGetsThemBack(Implementation impl) throws Exception {
        Keyed table = keyed(impl.create, new ClientLimits(2, null, null, 100, 64));
        InetAddress a = ip("192.0.2.1");
        assertThat(table.admit(a, NOW)).isNull();
        assertThat(table.admit(a, NOW)).isNull();
        assertThat(table.admit(a, NOW)).isEqualTo(ClientRefusal.CLIENT_CONNECTIONS);
        assertThat(table.admit(ip("192.0.2.2"), NOW)).isNull();
        table.release(a);
        assertThat(table.admit(a, NOW)).isNull();
        assertThat(table.admit(a, NOW)).isEqualTo(ClientRefusal.CLIENT_CONNECTIONS);
    }

    @ParameterizedTest
    @EnumSource(Implementation.class)
    void aClientsRateAllowsOneSecondsWorthThenTheRate(Implementation impl) throws Exception {
        Keyed table = keyed(impl.create, new ClientLimits(0, new Rate(10, TimeUnit.SECONDS), null, 100, 64));
        InetAddress a = ip("192.0.2.1");
        for (int i = 0; i < 10; i++) {
            assertThat(table.admit(a, NOW)).as("burst %d", i).isNull();
        }
        assertThat(table.admit(a, NOW)).isEqualTo(ClientRefusal.CLIENT_RATE);
        assertThat(table.admit(ip("192.0.2.2"), NOW)).isNull();
        assertThat(table.admit(a, NOW + 99_000_000L)).isEqualTo(ClientRefusal.CLIENT_RATE);
        assertThat(table.admit(a, NOW + 100_000_000L)).isNull();
        assertThat(table.admit(a, NOW + 100_000_000L)).isEqualTo(ClientRefusal.CLIENT_RATE);
        // Over 10 s more, the rate and no more.
        int admitted = 0;
        for (long t = NOW + 100_000_000L; t <= NOW + 10_100_000_000L; t += 1_000_000L) {
            admitted += table.admit(a, t) == null ? 1 : 0;
        }
        assertThat(admitted).isEqualTo(100);
    }

    @ParameterizedTest
    @EnumSource(Implementation.class)
    void ipv6ClientsAreCountedPerPrefix(Implementation impl) throws Exception {
        Keyed table = keyed(impl.create, new ClientLimits(1, null, null, 100, 64));
        assertThat(table.admit(ip("2001:db8:0:1::1"), NOW)).isNull();
        assertThat(table.admit(ip("2001:db8:0:1:ffff:ffff:ffff:ffff"), NOW)).isEqualTo(ClientRefusal.CLIENT_CONNECTIONS);
        assertThat(table.admit(ip("2001:db8:0:2::1"), NOW)).isNull();
        // An IPv4 address and the IPv6 address with its bits are different clients.
        assertThat(table.admit(ip("192.0.2.1"), NOW)).isNull();
        assertThat(table.admit(ip("::c000:201"), NOW)).isNull();
        Keyed perHost = keyed(impl.create, new ClientLimits(1, null, null, 100, 128));
        assertThat(perHost.admit(ip("2001:db8:0:1::1"), NOW)).isNull();
        assertThat(perHost.admit(ip("2001:db8:0:1::2"), NOW)).isNull();
        Keyed per48 = keyed(impl.create, new ClientLimits(1, null, null, 100, 48));
        assertThat(per48.admit(ip("2001:db8:0:1::1"), NOW)).isNull();
        assertThat(per48.admit(ip("2001:db8:0:2::1"), NOW)).isEqualTo(ClientRefusal.CLIENT_CONNECTIONS);
        assertThat(per48.admit(ip("2001:db8:1:1::1"), NOW)).isNull();
    }

    /**
     * Random admissions and releases of 300 clients against a table of 64 (one stripe: exact
     * recency order) and a model of it, a map of open counts and an access-ordered set of the idle
     * ones. Every answer must match the model's, so an entry lost or misplaced by an eviction's
     * backward shift (or a release that missed it) shows as a wrong refusal or size.
     */
    @Test
    void evictionsAndReleasesKeepEveryOtherClientFindable() throws Exception {
        int bound = 64;
        int max = 3;
        Keyed table = keyed(StripedClientTable::new, new ClientLimits(max, null, null, bound, 64));
        Map<InetAddress, Integer> open = new HashMap<>();
        LinkedHashSet<InetAddress> idle = new LinkedHashSet<>(); // least recently seen first
        List<InetAddress> clients = new ArrayList<>();
        for (int i = 0; i < 300; i++) {
            clients.add(ip("10.1." + (i / 250) + "." + (i % 250)));
        }
        Random random = new Random(18);
        for (int step = 0; step < 200_000; step++) {
            InetAddress client = clients.get(random.nextInt(clients.size()));
            if (random.nextInt(10) < 6) {
                ClientRefusal expected;
                if (open.containsKey(client)) {
                    if (open.get(client) == 0) {
                        idle.remove(client); // seen now
                        idle.add(client);
                    }
                } else if (open.size() < bound || !idle.isEmpty()) {
                    if (open.size() == bound) {
                        InetAddress evicted = idle.iterator().next();
                        idle.remove(evicted);
                        open.remove(evicted);
                    }
                    open.put(client, 0);
                    idle.add(client);
                }
                if (!open.containsKey(client)) {
                    expected = ClientRefusal.CLIENT_TABLE_FULL;
                } else if (open.get(client) >= max) {
                    expected = ClientRefusal.CLIENT_CONNECTIONS;
                } else {
                    expected = null;
                    if (open.merge(client, 1, Integer::sum) == 1) {
                        idle.remove(client);
                    }
                }
                assertThat(table.admit(client, NOW)).as("step %d: admit %s", step, client).isEqualTo(expected);
            } else {
                table.release(client);
                Integer held = open.get(client);
                if (held != null && held > 0 && open.merge(client, -1, Integer::sum) == 0) {
                    idle.add(client);
                }
            }
            assertThat(table.size()).as("step %d", step).isEqualTo(open.size());
        }
        assertThat(table.evictions()).isPositive();
    }

    @Test
    void theLeastRecentlySeenIdleClientIsEvictedFirst() throws Exception {
        Keyed table = keyed(StripedClientTable::new, new ClientLimits(0, ONE_A_MINUTE, null, 3, 64));
        InetAddress a = ip("192.0.2.1");
        InetAddress b = ip("192.0.2.2");
        InetAddress c = ip("192.0.2.3");
        for (InetAddress client : List.of(a, b, c)) {
            assertThat(table.admit(client, NOW)).isNull();
            table.release(client);
        }
        assertThat(table.admit(a, NOW + 1)).isEqualTo(ClientRefusal.CLIENT_RATE); // a seen again: b is now the oldest
        assertThat(table.admit(ip("192.0.2.4"), NOW + 2)).isNull();
        assertThat(table.size()).isEqualTo(3);
        assertThat(table.evictions()).isEqualTo(1);
        assertThat(table.admit(a, NOW + 3)).isEqualTo(ClientRefusal.CLIENT_RATE);
        assertThat(table.admit(c, NOW + 3)).isEqualTo(ClientRefusal.CLIENT_RATE);
        assertThat(table.admit(b, NOW + 4)).as("b was evicted: a fresh bucket").isNull();
        assertThat(table.evictions()).isEqualTo(2);
    }

    @ParameterizedTest
    @EnumSource(Implementation.class)
    void aClientWithAConnectionOpenIsNeverEvicted(Implementation impl) throws Exception {
        Keyed table = keyed(impl.create, new ClientLimits(1, null, null, 2, 64));
        InetAddress a = ip("192.0.2.1");
        InetAddress b = ip("192.0.2.2");
        assertThat(table.admit(a, NOW)).isNull();
        assertThat(table.admit(b, NOW)).isNull();
        assertThat(table.admit(ip("192.0.2.3"), NOW)).isEqualTo(ClientRefusal.CLIENT_TABLE_FULL);
        assertThat(table.admit(a, NOW)).as("a's count is kept").isEqualTo(ClientRefusal.CLIENT_CONNECTIONS);
        table.release(a);
        assertThat(table.admit(ip("192.0.2.3"), NOW)).isNull(); // a, idle now, made room
        assertThat(table.admit(b, NOW)).as("b's count is kept").isEqualTo(ClientRefusal.CLIENT_CONNECTIONS);
        table.release(b);
        assertThat(table.admit(b, NOW)).isNull();
    }

    /** Reports (does not assert) the heap a full table of 1,000,000 clients holds. */
    @ParameterizedTest
    @EnumSource(Implementation.class)
    void aMillionClientsKeepTheTableAtItsBound(Implementation impl) throws Exception {
        long before = usedAfterGc();
        Keyed table = keyed(impl.create, new ClientLimits(0, new Rate(50, TimeUnit.SECONDS), null, 1_000_000, 64));
        byte[] v4 = new byte[4];
        for (int i = 0; i < 2_000_000; i++) {
            v4[0] = (byte) (10 + (i >>> 24));
            v4[1] = (byte) (i >>> 16);
            v4[2] = (byte) (i >>> 8);
            v4[3] = (byte) i;
            InetAddress client = InetAddress.getByAddress(v4);
            assertThat(table.admit(client, NOW)).isNull();
            table.release(client);
            if (i == 999_999) {
                long full = usedAfterGc();
                System.out.printf("%s client table, 1,000,000 clients: %.1f MB of heap (%.1f B a client)%n", impl,
                        (full - before) / 1e6, (full - before) / 1e6);
                // The striped table bounds each stripe at its share: a stripe that hashing fills first evicts first.
                assertThat(table.size()).isBetween(990_000, 1_000_000);
            }
        }
        assertThat(table.size()).isLessThanOrEqualTo(1_000_000).isGreaterThan(990_000);
        assertThat(table.evictions()).isGreaterThanOrEqualTo(1_000_000L);
    }

    /**
     * Threads admit and release the same clients and their own at once: no client ever holds more
     * than its limit, and once all have released every client can take its whole limit again.
     */
    @ParameterizedTest
    @EnumSource(Implementation.class)
    void countsAreConservedUnderContention(Implementation impl) throws Exception {
        int limit = 3;
        int threads = 4;
        Keyed table = keyed(impl.create, new ClientLimits(limit, null, null, 64, 64));
        List<InetAddress> shared = List.of(ip("192.0.2.1"), ip("2001:db8::1"), ip("192.0.2.2"));
        AtomicInteger[] held = {new AtomicInteger(), new AtomicInteger(), new AtomicInteger()};
        AtomicInteger overLimit = new AtomicInteger();
        AtomicLong admitted = new AtomicLong();
        CyclicBarrier start = new CyclicBarrier(threads);
        List<Thread> workers = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            InetAddress own = ip("198.51.100." + (t + 1));
            Thread worker = new Thread(() -> {
                try {
                    start.await();
                    for (int i = 0; i < 200_000; i++) {
                        int which = i % shared.size();
                        if (table.admit(shared.get(which), NOW) == null) {
                            if (held[which].incrementAndGet() > limit) {
                                overLimit.incrementAndGet();
                            }
                            admitted.incrementAndGet();
                            held[which].decrementAndGet();
                            table.release(shared.get(which));
                        }
                        if (table.admit(own, NOW) != null) {
                            overLimit.incrementAndGet(); // its own client is never over: one at a time
                        } else {
                            table.release(own);
                        }
                    }
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            worker.start();
            workers.add(worker);
        }
        for (Thread worker : workers) {
            worker.join();
        }
        assertThat(overLimit).hasValue(0);
        assertThat(admitted.get()).isPositive();
        for (InetAddress client : shared) {
            for (int i = 0; i < limit; i++) {
                assertThat(table.admit(client, NOW)).as("%s slot %d", client, i).isNull();
            }
            assertThat(table.admit(client, NOW)).isEqualTo(ClientRefusal.CLIENT_CONNECTIONS);
        }
    }

    @Test
    void thePortRateIsOneBucketForAllThreads() throws Exception {
        PortRate rate = new PortRate(new Rate(1000, TimeUnit.SECONDS), NOW);
        AtomicInteger taken = new AtomicInteger();
        List<Thread> workers = new ArrayList<>();
        for (int t = 0; t < 4; t++) {
            Thread worker = new Thread(() -> {
                for (int i = 0; i < 10_000; i++) {
                    if (rate.tryAcquire(NOW)) {
                        taken.incrementAndGet();
                    }
                }
            });
            worker.start();
            workers.add(worker);
        }
        for (Thread worker : workers) {
            worker.join();
        }
        assertThat(taken).hasValue(1000); // exactly the burst, however the threads met
        assertThat(rate.tryAcquire(NOW + 999_999)).isFalse();
        assertThat(rate.tryAcquire(NOW + 1_000_000)).isTrue();
    }

    private static Keyed keyed(Function<ClientLimits, ClientTable> create, ClientLimits limits) {
        return new Keyed(create.apply(limits), new ClientKey(limits.clientPrefixV6()));
    }

    /** A table with its keys taken as Admission takes them. */
    record Keyed(ClientTable table, ClientKey key) {
        ClientRefusal admit(InetAddress client, long now) {
            return table.admit(high(client), low(client), now);
        }

        void release(InetAddress client) {
            table.release(high(client), low(client));
        }

        int size() {
            return table.size();
        }

        long evictions() {
            return table.evictions();
        }

        private long high(InetAddress client) {
            return ClientKey.isV4(client) ? 0 : key.high(client.getAddress());
        }

        private long low(InetAddress client) {
            return ClientKey.isV4(client) ? ClientKey.v4Low(client) : key.low(client.getAddress());
        }
    }

    private static long usedAfterGc() throws InterruptedException {
        Runtime runtime = Runtime.getRuntime();
        for (int i = 0; i < 3; i++) {
            System.gc();
            Thread.sleep(50);
        }
        return runtime.totalMemory() - runtime.freeMemory();
    }

    private static InetAddress ip(String literal) throws UnknownHostException {
        return InetAddress.getByName(literal);
    }
}

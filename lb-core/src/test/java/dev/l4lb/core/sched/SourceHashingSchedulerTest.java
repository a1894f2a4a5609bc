package dev.l4lb.core.sched;

import static dev.l4lb.core.sched.Backends.acquire;
import static dev.l4lb.core.sched.Backends.client;
import static dev.l4lb.core.sched.Backends.limited;
import static dev.l4lb.core.sched.Backends.ready;
import static dev.l4lb.core.sched.Backends.weighted;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.offset;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;

/** {@code sh}: a client keeps its endpoint; clients as a whole spread by weight. No randomness. */
class SourceHashingSchedulerTest {
    private static final int CLIENTS = 70_000;

    @Test
    void aClientAlwaysGetsTheSameEndpoint() {
        List<Backend> backends = List.of(ready(1), ready(2), ready(3), ready(4), ready(5));
        Scheduler sh = new SourceHashingScheduler(backends);
        List<Backend> first = new ArrayList<>();
        for (int i = 0; i < 10_000; i++) {
            first.add(sh.pick(client(i)));
        }
        // Loads do not matter to sh: claiming connections must not move anybody.
        backends.forEach(b -> acquire(b, 1 + backends.indexOf(b)));

        for (int round = 0; round < 3; round++) {
            for (int i = 0; i < 10_000; i++) {
                assertThat(sh.pick(client(i))).as("client %s, round %d", client(i), round).isSameAs(first.get(i));
            }
        }
    }

    @Test
    void anotherBalancerWithTheSameEndpointsSendsEachClientToTheSameAddress() {
        Scheduler one = new SourceHashingScheduler(List.of(ready(1), ready(2), ready(3)));
        Scheduler other = new SourceHashingScheduler(List.of(ready(1), ready(2), ready(3)));

        for (int i = 0; i < 10_000; i++) {
            assertThat(other.pick(client(i)).address()).isEqualTo(one.pick(client(i)).address());
        }
    }

    @Test
    void differentClientsSpreadOverAllEndpoints() {
        List<Backend> backends = List.of(ready(1), ready(2), ready(3), ready(4), ready(5));
        Scheduler sh = new SourceHashingScheduler(backends);

        double[] shares = shares(sh, backends, CLIENTS);

        // A fixed set of clients, so this is deterministic; 2 points around 20% leaves room for
        // the hash's unevenness (about 0.15 points, one standard deviation) and none for a
        // table that misses or doubles an endpoint.
        for (double share : shares) {
            assertThat(share).isCloseTo(0.2, offset(0.02));
        }
    }

    @Test
    void neighbouringIpv6ClientsSpreadToo() throws UnknownHostException {
        List<Backend> backends = List.of(ready(1), ready(2), ready(3));
        Scheduler sh = new SourceHashingScheduler(backends);
        long[] counts = new long[3];
        byte[] bytes = InetAddress.getByName("fd00::").getAddress();
        for (int i = 0; i < 30_000; i++) {
            bytes[14] = (byte) (i >>> 8);
            bytes[15] = (byte) i;
            counts[backends.indexOf(sh.pick(InetAddress.getByAddress(bytes)))]++;
        }

        for (long count : counts) {
            assertThat(count / 30_000.0).isCloseTo(1 / 3.0, offset(0.03));
        }
    }

    @Test
    void sharesFollowTheWeights() {
        Backend a = weighted(1, 5);
        Backend b = weighted(2, 1);
        Backend c = weighted(3, 1);
        List<Backend> backends = List.of(a, b, c);
        Scheduler sh = new SourceHashingScheduler(backends);

        double[] shares = shares(sh, backends, CLIENTS);

        assertThat(shares[0]).isCloseTo(5 / 7.0, offset(0.02));
        assertThat(shares[1]).isCloseTo(1 / 7.0, offset(0.02));
        assertThat(shares[2]).isCloseTo(1 / 7.0, offset(0.02));
    }

    @Test
    void clientsOfAFullEndpointGoElsewhereAndComeBackWhenItHasRoom() {
        Backend full = acquire(limited(1, 1), 1);
        Backend b = ready(2);
        Backend c = ready(3);
        Scheduler sh = new SourceHashingScheduler(List.of(full, b, c));
        List<InetAddress> fullsClients = new ArrayList<>();
        List<Backend> meanwhile = new ArrayList<>();
        for (int i = 0; i < 3_000; i++) {
            Backend chosen = sh.pick(client(i));
            assertThat(chosen).isNotNull().isNotSameAs(full);
            meanwhile.add(chosen);
        }

        full.release();
        for (int i = 0; i < 3_000; i++) {
            Backend chosen = sh.pick(client(i));
            if (chosen == full) {
                fullsClients.add(client(i));
            } else {
                assertThat(chosen).as("a client of another endpoint stays put").isSameAs(meanwhile.get(i));
            }
        }
        assertThat(fullsClients).as("clients whose endpoint has room again").hasSizeGreaterThan(500);
    }

    private static double[] shares(Scheduler scheduler, List<Backend> backends, int clients) {
        long[] counts = new long[backends.size()];
        for (int i = 0; i < clients; i++) {
            counts[backends.indexOf(scheduler.pick(client(i)))]++;
        }
        double[] shares = new double[counts.length];
        for (int i = 0; i < counts.length; i++) {
            shares[i] = (double) counts[i] / clients;
        }
        return shares;
    }
}

package dev.l4lb.core.sched;

import static dev.l4lb.core.sched.Backends.client;
import static dev.l4lb.core.sched.Backends.weighted;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.offset;

import java.math.BigInteger;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.function.IntUnaryOperator;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@code mh}: the table's fairness and its stability when an endpoint goes, measured on the table
 * itself ({@link MaglevScheduler#populate}), slot by slot, so the numbers are exact and not
 * estimates from sampled clients; then the same seen through picks for a fixed set of clients.
 */
class MaglevSchedulerTest {

    @ParameterizedTest
    @ValueSource(ints = {3, 10, 37, 100})
    void everyEndpointGetsItsFairShareOfTheTable(int n) {
        Backend[] backends = backends(n, i -> 1);
        int size = MaglevScheduler.tableSize(n);
        int[] slots = MaglevScheduler.populate(backends, size);

        long[] counts = count(slots, n);
        double fair = (double) size / n;
        for (int i = 0; i < n; i++) {
            assertThat((double) counts[i]).as("slots of endpoint %d of %d", i, n).isCloseTo(fair, offset(fair / 100));
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {3, 10, 37, 100})
    void weightedEndpointsGetTheirWeightedShareOfTheTable(int n) {
        // Weights 1, 2, 3, 1, 2, 3, ...
        Backend[] backends = backends(n, i -> 1 + i % 3);
        int size = MaglevScheduler.tableSize(n);
        int[] slots = MaglevScheduler.populate(backends, size);

        long[] counts = count(slots, n);
        long totalWeight = 0;
        for (Backend backend : backends) {
            totalWeight += backend.weight();
        }
        for (int i = 0; i < n; i++) {
            double fair = (double) size * backends[i].weight() / totalWeight;
            assertThat((double) counts[i]).as("slots of endpoint %d (weight %d) of %d", i, backends[i].weight(), n)
                    .isCloseTo(fair, offset(fair / 100));
        }
    }

    @Test
    void clientsFollowTheTableShares() {
        // The scheduler really hashes into the table it built: 100,000 distinct clients over
        // weights 1, 2, 3 land within a point of 1/6, 2/6, 3/6 (deterministic: fixed clients).
        List<Backend> backends = List.of(weighted(1, 1), weighted(2, 2), weighted(3, 3));
        Scheduler mh = new MaglevScheduler(backends);
        long[] counts = new long[3];
        for (int i = 0; i < 100_000; i++) {
            counts[backends.indexOf(mh.pick(client(i)))]++;
        }

        assertThat(counts[0] / 100_000.0).isCloseTo(1 / 6.0, offset(0.01));
        assertThat(counts[1] / 100_000.0).isCloseTo(2 / 6.0, offset(0.01));
        assertThat(counts[2] / 100_000.0).isCloseTo(3 / 6.0, offset(0.01));
    }

    @ParameterizedTest
    @ValueSource(ints = {3, 10, 37, 100})
    void removingAnEndpointMovesItsSlotsAndAtMostOnePercentOfTheRest(int n) {
        Backend[] before = backends(n, i -> 1);
        int gone = n / 2;
        Backend[] after = without(before, gone);

        int[] oldTable = MaglevScheduler.populate(before, MaglevScheduler.tableSize(n));
        int[] newTable = MaglevScheduler.populate(after, MaglevScheduler.tableSize(n - 1));

        assertThat(newTable).hasSameSizeAs(oldTable);
        int othersSlots = 0;
        int othersMoved = 0;
        for (int slot = 0; slot < oldTable.length; slot++) {
            InetSocketAddress oldOwner = before[oldTable[slot]].address();
            InetSocketAddress newOwner = after[newTable[slot]].address();
            if (oldOwner.equals(before[gone].address())) {
                assertThat(newOwner).isNotEqualTo(oldOwner);
            } else {
                othersSlots++;
                if (!newOwner.equals(oldOwner)) {
                    othersMoved++;
                }
            }
        }
        assertThat((double) othersMoved / othersSlots)
                .as("%d of %d slots of the remaining %d endpoints changed hands", othersMoved, othersSlots, n - 1)
                .isLessThanOrEqualTo(0.01);
    }

    /**
     * The same promise seen from the clients, past the point where the table stops being the
     * default 65,537 slots (more than 655 endpoints): {@link MaglevScheduler#tableSize} takes
     * the table from a few fixed primes, so removing one endpoint keeps the size (and the other
     * endpoints' clients) unless the count crosses a step.
     */
    @ParameterizedTest
    @ValueSource(ints = {100, 1_000})
    void removingAnEndpointKeepsTheOtherEndpointsClientsWhereTheyWere(int n) {
        List<Backend> before = List.of(backends(n, i -> 1));
        List<Backend> after = new ArrayList<>(before);
        Backend gone = after.remove(n / 2);
        Scheduler oldTable = new MaglevScheduler(before);
        Scheduler newTable = new MaglevScheduler(after);

        int stayed = 0;
        int moved = 0;
        for (int i = 0; i < 100_000; i++) {
            Backend was = oldTable.pick(client(i));
            if (was == gone) {
                continue;
            }
            stayed++;
            if (!newTable.pick(client(i)).address().equals(was.address())) {
                moved++;
            }
        }
        assertThat((double) moved / stayed)
                .as("%d of %d clients of the %d remaining endpoints moved when one of %d"
                        + " was removed; table size %d -> %d", moved, stayed, n - 1, n,
                        MaglevScheduler.tableSize(n), MaglevScheduler.tableSize(n - 1))
                .isLessThanOrEqualTo(0.01);
    }

    /**
     * An endpoint out of service stays in the table (its health is no reload), so unlike a removal
     * nothing is recomputed: its clients go to their slots' neighbours and spread, and every other
     * client keeps its endpoint; when it is back, its clients return.
     */
    @Test
    void anEndpointGoingDownMovesOnlyItsOwnClients() {
        List<Backend> backends = List.of(backends(10, i -> 1));
        Scheduler mh = new MaglevScheduler(backends);
        Backends.underHealth(true, backends.toArray(Backend[]::new));
        Backend gone = backends.get(4);
        int clients = 20_000;
        Backend[] before = new Backend[clients];
        for (int i = 0; i < clients; i++) {
            before[i] = mh.pick(client(i));
        }

        Backends.down(gone);
        java.util.Set<Backend> movedTo = new java.util.HashSet<>();
        for (int i = 0; i < clients; i++) {
            Backend now = mh.pick(client(i));
            if (before[i] == gone) {
                assertThat(now).isNotNull().isNotSameAs(gone);
                movedTo.add(now);
            } else {
                assertThat(now).as("client %d of a healthy endpoint", i).isSameAs(before[i]);
            }
        }
        assertThat(movedTo).as("the down endpoint's clients spread over the others").hasSizeGreaterThan(5);

        Backends.up(gone);
        for (int i = 0; i < clients; i++) {
            assertThat(mh.pick(client(i))).isSameAs(before[i]);
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 3, 100, 1_000})
    void tablesBuiltApartForTheSameEndpointsAreIdentical(int n) {
        Backend[] one = backends(n, i -> 1 + i % 4);
        Backend[] other = backends(n, i -> 1 + i % 4); // fresh Backend and Endpoint objects

        assertThat(MaglevScheduler.populate(other, MaglevScheduler.tableSize(n)))
                .isEqualTo(MaglevScheduler.populate(one, MaglevScheduler.tableSize(n)));
    }

    /**
     * Balancers given the same endpoints in a different order (another config file, another
     * EndpointSlice order) must send every client to the same endpoint: a router spreading one VIP
     * over several of them (ECMP) then keeps a client on one backend. The tables are compared slot
     * by slot as endpoint addresses, and then through picks, which also cover the fallback order.
     */
    @ParameterizedTest
    @ValueSource(ints = {2, 3, 10, 100})
    void theTableIsTheSameWhateverOrderTheEndpointsAreListedIn(int n) {
        List<Backend> listed = List.of(backends(n, i -> 1 + i % 3));
        InetSocketAddress[] reference = owners(listed);
        Scheduler first = new MaglevScheduler(listed);
        java.util.Random random = new java.util.Random(19);
        for (int round = 0; round < 5; round++) {
            List<Backend> reordered = new ArrayList<>(List.of(backends(n, i -> 1 + i % 3)));
            if (round == 0) {
                java.util.Collections.reverse(reordered);
            } else {
                java.util.Collections.shuffle(reordered, random);
            }
            assertThat(owners(reordered)).as("table of order %s", reordered).isEqualTo(reference);
            Scheduler other = new MaglevScheduler(reordered);
            for (int i = 0; i < 10_000; i++) {
                assertThat(other.pick(client(i)).address()).isEqualTo(first.pick(client(i)).address());
            }
        }
    }

    /**
     * The disruption Maglev promises (the paper's section 5.3): removing one of N endpoints moves
     * its own clients, about 1/N of them, and next to none of the others. Measured on 100,000
     * client addresses through picks; the shares are printed for the README.
     */
    @ParameterizedTest
    @ValueSource(ints = {3, 10, 100})
    void removingOneOfNEndpointsMovesAboutOneNthOfTheClients(int n) {
        List<Backend> before = List.of(backends(n, i -> 1));
        List<Backend> after = new ArrayList<>(before);
        Backend gone = after.remove(n / 2);
        Scheduler oldTable = new MaglevScheduler(before);
        Scheduler newTable = new MaglevScheduler(after);

        int clients = 100_000;
        int moved = 0;
        int ofSurvivors = 0;
        int survivorsMoved = 0;
        for (int i = 0; i < clients; i++) {
            Backend was = oldTable.pick(client(i));
            boolean changed = !newTable.pick(client(i)).address().equals(was.address());
            if (changed) {
                moved++;
            }
            if (was != gone) {
                ofSurvivors++;
                if (changed) {
                    survivorsMoved++;
                }
            }
        }
        double share = (double) moved / clients;
        double survivorsShare = (double) survivorsMoved / ofSurvivors;
        System.out.printf("mh disruption: N=%d, one endpoint removed: %.4f of %d clients moved (1/N = %.4f);"
                + " %.4f of the surviving endpoints' clients moved%n", n, share, clients, 1.0 / n, survivorsShare);
        assertThat(share).as("share of all clients moved").isLessThanOrEqualTo(2.0 / n)
                .isGreaterThanOrEqualTo(0.5 / n);
        assertThat(survivorsShare).as("share of the surviving endpoints' clients moved").isLessThanOrEqualTo(0.02);
    }

    /**
     * {@code hashKey: clientIpPort}: one client address's connections from different source ports
     * spread over the endpoints, each port always to the same one; under the default clientIp
     * they all go to one endpoint, whatever the port.
     */
    @Test
    void hashingTheClientPortSpreadsOneClientsConnections() {
        List<Backend> backends = List.of(backends(10, i -> 1));
        Scheduler byIp = new MaglevScheduler(backends);
        Scheduler byIpPort = new MaglevScheduler(backends, dev.l4lb.core.model.HashKey.CLIENT_IP_PORT);
        List<Backend> reversed = new ArrayList<>(List.of(backends(10, i -> 1)));
        java.util.Collections.reverse(reversed);
        Scheduler byIpPortElsewhere = new MaglevScheduler(reversed, dev.l4lb.core.model.HashKey.CLIENT_IP_PORT);
        java.util.Map<Backend, Integer> counts = new java.util.HashMap<>();
        Backend onlyByIp = byIp.pick(client(7));
        for (int port = 1024; port < 1024 + 10_000; port++) {
            assertThat(byIp.pick(client(7), port, List.of())).isSameAs(onlyByIp);
            Backend chosen = byIpPort.pick(client(7), port, List.of());
            assertThat(byIpPort.pick(client(7), port, List.of())).isSameAs(chosen);
            assertThat(byIpPortElsewhere.pick(client(7), port, List.of()).address()).isEqualTo(chosen.address());
            counts.merge(chosen, 1, Integer::sum);
        }
        assertThat(counts).hasSize(10);
        assertThat(counts.values()).allSatisfy(n -> assertThat(n).isBetween(800, 1200));
    }

    private static InetSocketAddress[] owners(List<Backend> listed) {
        Backend[] ordered = MaglevScheduler.inTableOrder(Eligibility.eligible(listed));
        int[] table = MaglevScheduler.populate(ordered, MaglevScheduler.tableSize(ordered.length));
        InetSocketAddress[] owners = new InetSocketAddress[table.length];
        for (int slot = 0; slot < table.length; slot++) {
            owners[slot] = ordered[table[slot]].address();
        }
        return owners;
    }

    @Test
    void tableSizeIsAPrimeOfAtLeastAHundredSlotsPerEndpoint() {
        for (int n = 0; n <= 3_000; n++) {
            checkTableSize(n);
        }
        for (int n : new int[] {10_000, 65_537, 100_000, 167_772}) {
            checkTableSize(n);
        }
        assertThat(MaglevScheduler.tableSize(3)).as("the paper's and IPVS's default").isEqualTo(65_537);
        // Past the top rung (64 MiB of table) the size stops growing rather than the memory.
        assertThat(MaglevScheduler.tableSize(1_000_000)).isEqualTo(MaglevScheduler.tableSize(167_772));
        // The size changes only at the rungs, so adding or removing one endpoint keeps it.
        long changes = java.util.stream.IntStream.range(1, 3_000)
                .filter(n -> MaglevScheduler.tableSize(n) != MaglevScheduler.tableSize(n + 1)).count();
        assertThat(changes).as("size changes between 1 and 3,000 endpoints").isEqualTo(3);
    }

    @Test
    void anEmptyEndpointSetHasAnEmptyTable() {
        assertThat(MaglevScheduler.populate(new Backend[0], MaglevScheduler.tableSize(0))).isEmpty();
    }

    private static void checkTableSize(int n) {
        int size = MaglevScheduler.tableSize(n);
        assertThat(BigInteger.valueOf(size).isProbablePrime(50)).as("tableSize(%d) = %d is prime", n, size).isTrue();
        assertThat((long) size).as("tableSize(%d)", n).isGreaterThanOrEqualTo(100L * n);
    }

    private static Backend[] backends(int n, IntUnaryOperator weight) {
        Backend[] backends = new Backend[n];
        for (int i = 0; i < n; i++) {
            backends[i] = weighted(i + 1, weight.applyAsInt(i));
        }
        return backends;
    }

    private static Backend[] without(Backend[] backends, int position) {
        List<Backend> rest = new ArrayList<>(List.of(backends));
        rest.remove(position);
        return rest.toArray(Backend[]::new);
    }

    private static long[] count(int[] slots, int n) {
        long[] counts = new long[n];
        for (int position : slots) {
            counts[position]++;
        }
        return counts;
    }
}

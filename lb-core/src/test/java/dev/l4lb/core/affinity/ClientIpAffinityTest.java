package dev.l4lb.core.affinity;

import static dev.l4lb.core.affinity.AffinityTableTest.client;
import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Optional;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import dev.l4lb.core.health.HealthListener;
import dev.l4lb.core.health.PortHealth;
import dev.l4lb.core.model.Endpoint;
import dev.l4lb.core.model.HealthCheck;
import dev.l4lb.core.model.HealthPolicy;
import dev.l4lb.core.sched.Backend;
import dev.l4lb.core.sched.RoundRobinScheduler;
import dev.l4lb.core.sched.Scheduler;
import dev.l4lb.core.sched.SourceHashingScheduler;

class ClientIpAffinityTest {
    private static final Duration TIMEOUT = Duration.ofSeconds(60);
    private static final Duration NANO = Duration.ofNanos(1);

    private final FakeTicker ticker = new FakeTicker();
    private final AffinityTable table = new AffinityTable(TIMEOUT, 100_000, ticker, Runnable::run);

    /** {@code a} takes one connection at a time, so a test can fill it; the limit changes nothing else. */
    private final Backend a = Backend.of(endpoint(1, 1, true, 1));
    private final Backend b = Backend.of(endpoint(2, 1, true, 0));
    private final Backend c = Backend.of(endpoint(3, 1, true, 0));
    private final List<Backend> backends = List.of(a, b, c);

    @Test
    void oneClientKeepsItsEndpointOverAThousandPicksWhileOthersTakeTheRoundRobinTurns() throws Exception {
        ClientIpAffinity affinity = roundRobin(backends);
        InetAddress sticky = client(0);
        assertThat(affinity.pick(sticky)).isSameAs(a);

        List<Backend> others = new ArrayList<>();
        for (int i = 1; i <= 1000; i++) {
            others.add(affinity.pick(client(i))); // a new client between two sticky picks moves round-robin on
            assertThat(affinity.pick(sticky)).as("sticky pick %d", i).isSameAs(a);
        }

        // The sticky client used up no turns after its first: the new clients go b, c, a, b, c, ...
        for (int i = 0; i < others.size(); i++) {
            assertThat(others.get(i)).as("new client %d", i + 1).isSameAs(backends.get((i + 1) % 3));
        }
        assertThat(table.size()).isEqualTo(1001);
    }

    @Test
    void newClientsAreSpreadExactlyAsRoundRobinSpreadsThem() throws Exception {
        ClientIpAffinity affinity = roundRobin(backends);
        RoundRobinScheduler alone = new RoundRobinScheduler(backends);

        List<Backend> picks = new ArrayList<>();
        for (int i = 0; i < 300; i++) {
            Backend picked = affinity.pick(client(i));
            assertThat(picked).as("client %d", i).isSameAs(alone.pick(client(i)));
            assertThat(table.get(client(i))).isEqualTo(picked.address());
            picks.add(picked);
        }
        for (Backend backend : backends) {
            assertThat(picks).as("clients of %s", backend).filteredOn(p -> p == backend).hasSize(100);
        }
    }

    @Test
    void newClientsAreSpreadExactlyAsSourceHashingSpreadsThem() throws Exception {
        ClientIpAffinity affinity = new ClientIpAffinity(new SourceHashingScheduler(backends), backends, table);
        SourceHashingScheduler alone = new SourceHashingScheduler(backends);

        List<Backend> used = new ArrayList<>();
        for (int i = 0; i < 1000; i++) {
            Backend picked = affinity.pick(client(i));
            assertThat(picked).as("client %d", i).isSameAs(alone.pick(client(i)));
            if (!used.contains(picked)) {
                used.add(picked);
            }
        }
        assertThat(used).as("1000 clients hash onto every endpoint").containsExactlyInAnyOrderElementsOf(backends);
    }

    @Test
    void anEntryExpiresTimeoutAfterTheLastPickAndAPickRefreshesIt() throws Exception {
        ClientIpAffinity affinity = roundRobin(backends);
        InetAddress client = client(1);
        assertThat(affinity.pick(client)).isSameAs(a);

        ticker.advance(TIMEOUT.minus(NANO));
        assertThat(affinity.pick(client)).as("1 ns before the timeout").isSameAs(a);
        ticker.advance(TIMEOUT.minus(NANO));
        assertThat(affinity.pick(client)).as("1 ns before the timeout after the refreshing pick").isSameAs(a);

        ticker.advance(TIMEOUT.minus(NANO));
        table.cleanUp(); // size() after cleanUp: a pick here would refresh the entry it looks at
        assertThat(table.size()).isEqualTo(1);
        ticker.advance(NANO.multipliedBy(2));
        table.cleanUp();
        assertThat(table.size()).as("1 ns after the timeout").isZero();

        // Gone: the client is a new one to round-robin, which has given out one turn so far.
        assertThat(affinity.pick(client)).isSameAs(b);
        assertThat(table.get(client)).isEqualTo(b.address());
    }

    /** What happened to the endpoint a client sticks to. */
    enum Change { REMOVED, DRAINED, UNREADY, FULL }

    @ParameterizedTest
    @EnumSource(Change.class)
    void aClientWhoseEndpointCannotTakeItIsPickedAnewAndItsEntryOverwritten(Change change) throws Exception {
        ClientIpAffinity first = roundRobin(backends);
        InetAddress client = client(1);
        assertThat(first.pick(client)).isSameAs(a);

        // The next snapshot, with the same counters and the same table, as ServiceSnapshot builds it.
        ClientIpAffinity second = switch (change) {
            case REMOVED -> roundRobin(List.of(carried(b), carried(c)));
            case DRAINED -> roundRobin(List.of(new Backend(a.endpoint().withWeight(0), a.counters()), carried(b), carried(c)));
            case UNREADY -> roundRobin(List.of(new Backend(endpoint(1, 1, false, 1), a.counters()), carried(b), carried(c)));
            case FULL -> {
                assertThat(a.tryAcquire()).isTrue(); // a's one connection: full, in the same snapshot
                yield first;
            }
        };

        Backend moved = second.pick(client);
        assertThat(moved).as("the scheduler's next choice").isNotNull();
        assertThat(moved.address()).isEqualTo(b.address());
        assertThat(table.get(client)).as("entry overwritten").isEqualTo(b.address());

        // a can take the client again, yet it stays with its new endpoint: the old entry is gone, not just bypassed.
        if (change == Change.FULL) {
            a.release();
        }
        ClientIpAffinity restored = roundRobin(List.of(carried(a), carried(b), carried(c)));
        assertThat(restored.pick(client).address()).isEqualTo(b.address());
        assertThat(restored.pick(client(2)).address()).as("a fresh client still gets a").isEqualTo(a.address());
    }

    @Test
    void aClientWhoseEndpointIsOutOfServiceIsPickedAnewAndStaysWithItsNewEndpoint() throws Exception {
        ClientIpAffinity affinity = roundRobin(backends);
        InetAddress client = client(1);
        PortHealth health = new PortHealth("demo/web");
        HealthCheck d = HealthCheck.tcpDefaults();
        health.attach(new HealthPolicy(Optional.of(new HealthCheck(d.kind(), d.interval(), d.timeout(), 1, 1, 0, d.path(),
                        d.expectStatus(), false, false)), Optional.empty(), true),
                backends.stream().map(backend -> backend.counters().health()).toList(), HealthListener.NONE);
        assertThat(affinity.pick(client)).isSameAs(a);

        a.counters().health().checkFailed(1, "refused");
        assertThat(affinity.pick(client)).isSameAs(b);
        assertThat(table.get(client)).as("entry overwritten").isEqualTo(b.address());

        a.counters().health().checkPassed(1);
        assertThat(affinity.pick(client)).as("back up, but the client has moved on").isSameAs(b);
    }

    @Test
    void connectFailedForgetsTheEntryAndTheRetrySticksToTheNewChoice() throws Exception {
        ClientIpAffinity affinity = roundRobin(backends);
        InetAddress client = client(1);
        assertThat(affinity.pick(client)).isSameAs(a);

        affinity.connectFailed(a, client);

        assertThat(table.get(client)).isNull();
        assertThat(a.counters().connectFailures()).isEqualTo(1);
        Backend retry = affinity.pick(client, List.of(a));
        assertThat(retry).isSameAs(b);
        assertThat(table.get(client)).isEqualTo(b.address());
        assertThat(affinity.pick(client)).isSameAs(b);
    }

    @Test
    void aFailureReportedForAnotherEndpointKeepsTheEntry() throws Exception {
        // remove(client, endpoint): a late failure report from an older attempt must not undo the new choice.
        ClientIpAffinity affinity = roundRobin(backends);
        InetAddress client = client(1);
        assertThat(affinity.pick(client)).isSameAs(a);

        affinity.connectFailed(b, client);

        assertThat(table.get(client)).isEqualTo(a.address());
        assertThat(affinity.pick(client)).isSameAs(a);
        assertThat(b.counters().connectFailures()).isEqualTo(1);
    }

    @Test
    void anExcludedStickyEndpointIsNotReturnedAndTheNewChoiceIsKept() throws Exception {
        ClientIpAffinity affinity = roundRobin(backends);
        InetAddress client = client(1);
        assertThat(affinity.pick(client)).isSameAs(a);

        assertThat(affinity.pick(client, List.of(a))).isSameAs(b);
        assertThat(table.get(client)).isEqualTo(b.address());
        assertThat(affinity.pick(client, List.of(b))).as("now sticky to b, which is excluded").isSameAs(c);
        assertThat(affinity.pick(client, List.of(a, b, c))).isNull();
    }

    @Test
    void theTableStaysWithinItsBoundUnderAFloodOfClients() throws Exception {
        AffinityTable small = new AffinityTable(TIMEOUT, 100, ticker, Runnable::run);
        ClientIpAffinity affinity = new ClientIpAffinity(new RoundRobinScheduler(backends), backends, small);
        for (int i = 0; i < 10_000; i++) {
            assertThat(affinity.pick(client(i))).isNotNull();
        }
        small.cleanUp();

        assertThat(small.size()).isLessThanOrEqualTo(100);
        assertThat(small.evictions()).isPositive();
        assertThat(small.evictions() + small.size()).isEqualTo(10_000);
        assertThat(affinity.table()).isSameAs(small);
    }

    @Test
    void anEntryForAnIneligibleEndpointIsNotUsed() throws Exception {
        // An inner scheduler that misbehaves once, handing out an endpoint that is not ready: the
        // entry it leaves must not keep serving that endpoint.
        Backend notReady = Backend.of(endpoint(9, 1, false, 0));
        Scripted scripted = new Scripted(notReady, a);
        ClientIpAffinity affinity = new ClientIpAffinity(scripted, List.of(a, notReady), table);
        InetAddress client = client(1);

        assertThat(affinity.pick(client)).isSameAs(notReady);
        assertThat(affinity.pick(client)).isSameAs(a);
        assertThat(affinity.pick(client)).isSameAs(a); // now held: the scripted scheduler is not asked again
        assertThat(scripted.answers).isEmpty();
    }

    @Test
    void noEligibleEndpointGivesNullAndNoEntry() throws Exception {
        List<Backend> drained = List.of(Backend.of(endpoint(1, 0, true, 0)));
        ClientIpAffinity affinity = roundRobin(drained);

        assertThat(affinity.hasEligible()).isFalse();
        assertThat(affinity.pick(client(1))).isNull();
        assertThat(table.size()).isZero();
        assertThat(roundRobin(backends).hasEligible()).isTrue();
    }

    @Test
    void aPickCountsNothingTheCallerClaimsTheEndpoint() throws Exception {
        // Counting in pick as well as in tryAcquire would fill endpoints at half their limit.
        ClientIpAffinity affinity = roundRobin(backends);
        InetAddress client = client(1);
        for (int i = 0; i < 5; i++) {
            affinity.pick(client);
        }
        assertThat(a.active()).isZero();

        assertThat(a.tryAcquire()).isTrue();
        assertThat(a.active()).isEqualTo(1);
        a.release();
        assertThat(a.active()).isZero();
    }

    private ClientIpAffinity roundRobin(List<Backend> list) {
        return new ClientIpAffinity(new RoundRobinScheduler(list), list, table);
    }

    /** The same endpoint in the next snapshot: a new Backend over the same counters. */
    private static Backend carried(Backend backend) {
        return new Backend(backend.endpoint(), backend.counters());
    }

    private static Endpoint endpoint(int host, int weight, boolean ready, int maxConnections) {
        InetSocketAddress address = new InetSocketAddress(InetAddress.getLoopbackAddress(), 9000 + host);
        return new Endpoint(address, weight, "", ready, ready, false, maxConnections);
    }

    /** Answers with the backends it was given, one per pick, whatever the client. */
    private static final class Scripted implements Scheduler {
        final Deque<Backend> answers;

        Scripted(Backend... answers) {
            this.answers = new ArrayDeque<>(List.of(answers));
        }

        @Override
        public Backend pick(InetAddress client, List<Backend> excluded) {
            return answers.poll();
        }

        @Override
        public boolean hasEligible() {
            return true;
        }
    }
}

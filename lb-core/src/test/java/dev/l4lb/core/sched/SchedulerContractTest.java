package dev.l4lb.core.sched;

import static dev.l4lb.core.sched.Backends.acquire;
import static dev.l4lb.core.sched.Backends.backend;
import static dev.l4lb.core.sched.Backends.client;
import static dev.l4lb.core.sched.Backends.down;
import static dev.l4lb.core.sched.Backends.eject;
import static dev.l4lb.core.sched.Backends.underHealth;
import static dev.l4lb.core.sched.Backends.up;
import static dev.l4lb.core.sched.Backends.limited;
import static dev.l4lb.core.sched.Backends.ready;
import static dev.l4lb.core.sched.Backends.weighted;
import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import dev.l4lb.core.model.SchedulerType;

/**
 * The rules every scheduler keeps, whatever its algorithm: Kubernetes' eligibility, weight 0,
 * per-endpoint limits, exclusions after a failed connect, and no endpoints at all. Each rule is
 * checked over many picks from many clients (so the hashing schedulers reach every slot) that
 * claim what they pick (so the least-load ones move on), and each check also asserts that every
 * endpoint that may be picked was, so that "never picked" cannot pass by a scheduler that
 * always returns the same endpoint.
 */
class SchedulerContractTest {
    private static final int PICKS = 3_000;

    /**
     * Issue #21: a retry after a failed connect once took a turn of the rotation itself, so the
     * endpoint after the failed one's turn went to the retry and every next client started at the
     * failed one again: with [dead, live], 20 of 20 clients tried the dead one first.
     */
    @ParameterizedTest
    @EnumSource(value = SchedulerType.class, names = {"RR", "WRR"})
    void aRetryDoesNotMoveTheRotation(SchedulerType type) {
        Backend dead = ready(1);
        Backend live = ready(2);
        Backend other = ready(3);

        assertThat(firstTriesOn(dead, Schedulers.create(type, List.of(dead, live)), 20)).as("clients that tried the dead one of two first")
                .isEqualTo(10);
        assertThat(firstTriesOn(dead, Schedulers.create(type, List.of(live, dead, other)), 30)).as("clients that tried the dead one of three first")
                .isEqualTo(10);
    }

    @ParameterizedTest
    @EnumSource(SchedulerType.class)
    void weightZeroIsNeverPicked(SchedulerType type) {
        Backend a = ready(1);
        Backend drained = weighted(2, 0);
        Backend c = weighted(3, 2);
        Scheduler scheduler = Schedulers.create(type, List.of(a, drained, c));

        assertThat(pickedSet(scheduler)).containsExactlyInAnyOrder(a, c);
    }

    @ParameterizedTest
    @EnumSource(SchedulerType.class)
    void notReadyEndpointsAreNeverPickedWhileAReadyOneExists(SchedulerType type) {
        Backend notReady = backend(1, 1, false, false, false, 0);
        Backend servingTerminating = backend(2, 1, false, true, true, 0);
        Backend a = ready(3);
        Backend servingNotReady = backend(4, 1, false, true, false, 0);
        Backend b = ready(5);
        Scheduler scheduler = Schedulers.create(type, List.of(notReady, servingTerminating, a, servingNotReady, b));

        assertThat(scheduler.hasEligible()).isTrue();
        assertThat(pickedSet(scheduler)).containsExactlyInAnyOrder(a, b);
    }

    @ParameterizedTest
    @EnumSource(SchedulerType.class)
    void withNoReadyEndpointServingTerminatingOnesAreUsed(SchedulerType type) {
        Backend notServing = backend(1, 1, false, false, true, 0);
        Backend terminatingA = backend(2, 1, false, true, true, 0);
        Backend drainedTerminating = backend(3, 0, false, true, true, 0);
        Backend servingNotTerminating = backend(4, 1, false, true, false, 0);
        Backend terminatingB = backend(5, 2, false, true, true, 0);
        Backend readyButDrained = backend(6, 0, true, true, false, 0);
        Scheduler scheduler = Schedulers.create(type, List.of(
                notServing, terminatingA, drainedTerminating, servingNotTerminating, terminatingB, readyButDrained));

        assertThat(scheduler.hasEligible()).isTrue();
        assertThat(pickedSet(scheduler)).containsExactlyInAnyOrder(terminatingA, terminatingB);
    }

    @ParameterizedTest
    @EnumSource(SchedulerType.class)
    void anEndpointAtItsLimitIsSkipped(SchedulerType type) {
        // The full endpoint is the least loaded and listed first: the least-load schedulers and
        // rr's first turn would all go to it if the limit were ignored.
        Backend full = acquire(limited(1, 1), 1);
        Backend b = acquire(ready(2), 5);
        Backend c = acquire(ready(3), 5);
        Scheduler scheduler = Schedulers.create(type, List.of(full, b, c));

        assertThat(pickedSet(scheduler)).containsExactlyInAnyOrder(b, c);

        full.release();
        assertThat(pickedSet(scheduler)).as("once it has room again").contains(full);
    }

    @ParameterizedTest
    @EnumSource(SchedulerType.class)
    void whenEveryEndpointIsFullPickGivesNullButEndpointsStayEligible(SchedulerType type) {
        Backend a = acquire(limited(1, 1), 1);
        Backend b = acquire(limited(2, 2), 2);
        Backend c = acquire(backend(3, 3, true, true, false, 1), 1);
        Scheduler scheduler = Schedulers.create(type, List.of(a, b, c));

        for (int i = 0; i < PICKS; i++) {
            assertThat(scheduler.pick(client(i))).as("pick %d", i).isNull();
        }
        assertThat(scheduler.hasEligible()).as("full is not the same as no endpoints").isTrue();

        b.release();
        assertThat(scheduler.pick(client(0))).isSameAs(b);
    }

    @ParameterizedTest
    @EnumSource(SchedulerType.class)
    void anEndpointDownOrEjectedIsNeverPickedWhileAnotherIsInService(SchedulerType type) {
        // The down one is listed first and idle, the ejected one is the heaviest: the least-load
        // schedulers, rr's first turn and the weighted ones would all favour them if health were ignored.
        Backend a = ready(1);
        Backend b = acquire(weighted(2, 3), 0);
        Backend c = acquire(ready(3), 3);
        Backend d = acquire(ready(4), 3);
        Scheduler scheduler = Schedulers.create(type, List.of(a, b, c, d));
        underHealth(true, a, b, c, d);

        down(a);
        eject(b);
        assertThat(pickedSet(scheduler)).containsExactlyInAnyOrder(c, d);
        assertThat(pickedSet(scheduler, List.of(c))).as("a retry goes to the other one in service").containsExactly(d);
        assertThat(scheduler.pick(client(1), List.of(c, d))).as("only out-of-service ones left").isNull();

        up(a);
        assertThat(pickedSet(scheduler)).as("once it is back").contains(a).doesNotContain(b);
    }

    @ParameterizedTest
    @EnumSource(SchedulerType.class)
    void excludedEndpointsAreNeverReturned(SchedulerType type) {
        Backend a = ready(1);
        Backend b = weighted(2, 3);
        Backend c = ready(3);
        Backend d = ready(4);
        Scheduler scheduler = Schedulers.create(type, List.of(a, b, c, d));

        assertThat(pickedSet(scheduler, List.of(b))).containsExactlyInAnyOrder(a, c, d);
        assertThat(pickedSet(scheduler, List.of(a, d))).containsExactlyInAnyOrder(b, c);
        assertThat(pickedSet(scheduler, List.of(a, b, d))).containsExactly(c);
        assertThat(scheduler.pick(client(7), List.of(a, b, c, d))).isNull();
        assertThat(scheduler.hasEligible()).isTrue();
    }

    @ParameterizedTest
    @EnumSource(SchedulerType.class)
    void aClientsOwnChoiceExcludedFallsBackToAnotherEndpoint(SchedulerType type) {
        // The retry after a failed connect: for hashing schedulers this is the endpoint the
        // client hashes to, which must not be returned again.
        List<Backend> backends = List.of(ready(1), ready(2), ready(3), ready(4), ready(5));
        Scheduler scheduler = Schedulers.create(type, backends);

        for (int i = 0; i < PICKS; i++) {
            InetAddress client = client(i);
            Backend first = scheduler.pick(client);
            Backend retry = scheduler.pick(client, List.of(first));
            assertThat(retry).as("client %s, first try %s", client, first).isNotNull().isNotSameAs(first);
        }
    }

    @ParameterizedTest
    @EnumSource(SchedulerType.class)
    void noEndpointsGiveNullAndNothingEligible(SchedulerType type) {
        Scheduler empty = Schedulers.create(type, List.of());
        Scheduler noneEligible = Schedulers.create(type, List.of(
                backend(1, 1, false, false, false, 0), backend(2, 0, true, true, false, 0),
                backend(3, 1, false, true, false, 0)));

        assertThat(empty.pick(client(1))).isNull();
        assertThat(empty.pick(client(1), List.of(ready(9)))).isNull();
        assertThat(empty.hasEligible()).isFalse();
        assertThat(noneEligible.pick(client(1))).isNull();
        assertThat(noneEligible.hasEligible()).isFalse();
    }

    @ParameterizedTest
    @EnumSource(SchedulerType.class)
    void aSingleEndpointTakesEveryConnection(SchedulerType type) {
        Backend only = weighted(1, 7);
        Scheduler scheduler = Schedulers.create(type, List.of(only));

        assertThat(pickedSet(scheduler)).containsExactly(only);
    }

    @ParameterizedTest
    @EnumSource(SchedulerType.class)
    void everyTypeIsCreatedUnderItsConfigName(SchedulerType type) {
        assertThat(SchedulerType.byName(type.configName())).contains(type);
        assertThat(SchedulerType.names()).contains(type.configName());
        assertThat(SchedulerType.whyNotOffered(type.configName())).isEmpty();
    }

    private static Set<Backend> pickedSet(Scheduler scheduler) {
        return pickedSet(scheduler, List.of());
    }

    /**
     * The endpoints chosen over {@link #PICKS} picks from distinct clients, each claimed and
     * released again (unlimited endpoints only keep the count) so that the least-load schedulers
     * rotate; every claim must succeed, since a pick only returns endpoints with room.
     */
    private static Set<Backend> pickedSet(Scheduler scheduler, List<Backend> excluded) {
        Set<Backend> picked = new HashSet<>();
        List<Backend> claimed = new ArrayList<>();
        for (int i = 0; i < PICKS; i++) {
            // As in use, a retry follows a first try: the rotating schedulers move on with first tries only.
            if (!excluded.isEmpty()) {
                scheduler.pick(client(i));
            }
            Backend chosen = scheduler.pick(client(i), excluded);
            assertThat(chosen).as("pick %d", i).isNotNull();
            assertThat(chosen.tryAcquire()).as("claim of %s, which pick returned", chosen).isTrue();
            claimed.add(chosen);
            picked.add(chosen);
        }
        // Give the counts back so that a later check in the same test starts from the same loads.
        claimed.forEach(Backend::release);
        return picked;
    }

    /**
     * Of {@code clients} connections, how many picked {@code dead} first; each of those is then
     * retried with it excluded, as a failed connect is, and must get another endpoint.
     */
    private static int firstTriesOn(Backend dead, Scheduler scheduler, int clients) {
        int first = 0;
        for (int i = 0; i < clients; i++) {
            Backend picked = scheduler.pick(Backends.CLIENT);
            if (picked == dead) {
                first++;
                assertThat(scheduler.pick(Backends.CLIENT, List.of(dead))).isNotNull().isNotSameAs(dead);
            }
        }
        return first;
    }
}

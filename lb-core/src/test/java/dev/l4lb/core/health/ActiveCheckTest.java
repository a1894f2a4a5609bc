package dev.l4lb.core.health;

import static dev.l4lb.core.health.HealthPorts.apply;
import static dev.l4lb.core.health.HealthPorts.backend;
import static dev.l4lb.core.health.HealthPorts.check;
import static dev.l4lb.core.health.HealthPorts.health;
import static dev.l4lb.core.health.HealthPorts.picked;
import static dev.l4lb.core.health.HealthPorts.route;
import static dev.l4lb.core.health.HealthPorts.service;
import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;

import org.junit.jupiter.api.Test;

import dev.l4lb.core.model.HealthPolicy;
import dev.l4lb.core.sched.Backend;
import dev.l4lb.core.table.Route;
import dev.l4lb.core.table.ServiceSnapshot;

/** Active checks over snapshots as the data plane applies them: fall, rise, streaks, startDown and reloads. */
class ActiveCheckTest {
    private static final HealthPolicy RISE_2_FALL_3 = check(2, 3, false, true);

    private final HealthPorts.Recording events = new HealthPorts.Recording();

    @Test
    void fallFailuresInARowTakeAnEndpointDownAndNotOneBefore() {
        Route route = route(apply(service(RISE_2_FALL_3, 1, 2), events));
        EndpointHealth one = health(route, 1);

        one.checkFailed(3, "connection refused");
        one.checkFailed(3, "connection refused");
        assertThat(one.state()).isEqualTo(HealthState.UP);
        assertThat(one.inService()).isTrue();
        assertThat(events.changes()).isEmpty();
        assertThat(picked(route, 20)).contains(backend(route, 1));

        one.checkFailed(3, "connection refused");
        assertThat(one.state()).isEqualTo(HealthState.DOWN);
        assertThat(one.inService()).isFalse();
        assertThat(events.transitions()).containsExactly("10.0.0.1 UP->DOWN");
        assertThat(events.changes().get(0).reason()).contains("3 time(s)").contains("connection refused");
        assertThat(picked(route, 20)).containsExactly(backend(route, 2));
        assertThat(one.checksFailed()).isEqualTo(3);
        assertThat(one.lastFailure()).isEqualTo("connection refused");
    }

    @Test
    void risePassesInARowBringItBack() {
        Route route = route(apply(service(RISE_2_FALL_3, 1, 2), events));
        EndpointHealth one = health(route, 1);
        fail(one, 3);
        events.clear();

        one.checkPassed(2);
        assertThat(one.state()).isEqualTo(HealthState.DOWN);
        assertThat(events.changes()).isEmpty();

        one.checkPassed(2);
        assertThat(one.state()).isEqualTo(HealthState.UP);
        assertThat(events.transitions()).containsExactly("10.0.0.1 DOWN->UP");
        assertThat(events.changes().get(0).reason()).isNull();
        assertThat(picked(route, 20)).contains(backend(route, 1), backend(route, 2));
        assertThat(one.checksPassed()).isEqualTo(2);
    }

    @Test
    void aResultOfTheOtherSideStartsTheStreakAgain() {
        Route route = route(apply(service(RISE_2_FALL_3, 1, 2), events));
        EndpointHealth one = health(route, 1);

        fail(one, 2);
        one.checkPassed(2);
        fail(one, 2);
        assertThat(one.state()).as("2 failures, a pass, 2 failures").isEqualTo(HealthState.UP);
        fail(one, 1);
        assertThat(one.state()).as("the third in a row").isEqualTo(HealthState.DOWN);

        one.checkPassed(2);
        one.checkFailed(3, "timeout");
        one.checkPassed(2);
        assertThat(one.state()).as("pass, failure, pass").isEqualTo(HealthState.DOWN);
        one.checkPassed(2);
        assertThat(one.state()).as("the second pass in a row").isEqualTo(HealthState.UP);
        assertThat(events.transitions()).containsExactly("10.0.0.1 UP->DOWN", "10.0.0.1 DOWN->UP");
    }

    @Test
    void withStartDownNewEndpointsStartDownUntilTheyRise() {
        HealthPolicy startDown = check(2, 3, true, false);
        ServiceSnapshot first = apply(service(startDown, 1, 2), events);
        Route route = route(first);

        assertThat(health(route, 1).state()).isEqualTo(HealthState.DOWN);
        assertThat(health(route, 2).state()).isEqualTo(HealthState.DOWN);
        assertThat(events.transitions()).containsExactlyInAnyOrder("10.0.0.1 UP->DOWN", "10.0.0.2 UP->DOWN");
        assertThat(route.scheduler().pick(HealthPorts.client(1))).isNull();

        pass(health(route, 1), 2);
        assertThat(picked(route, 20)).containsExactly(backend(route, 1));

        // A reload: the risen endpoint stays up, the one still down stays down, the new one starts down.
        events.clear();
        Route reloaded = route(apply(first, service(startDown, 1, 2, 3), events));
        assertThat(health(reloaded, 1).state()).isEqualTo(HealthState.UP);
        assertThat(health(reloaded, 2).state()).isEqualTo(HealthState.DOWN);
        assertThat(health(reloaded, 3).state()).isEqualTo(HealthState.DOWN);
        assertThat(events.transitions()).containsExactly("10.0.0.3 UP->DOWN");
        assertThat(picked(reloaded, 20)).containsExactly(backend(reloaded, 1));
    }

    @Test
    void aReloadKeepsTheStateAndCountersOfRemainingEndpointsAndANewEndpointStartsUp() {
        ServiceSnapshot first = apply(service(RISE_2_FALL_3, 1, 2), events);
        Route route = route(first);
        EndpointHealth one = health(route, 1);
        EndpointHealth two = health(route, 2);
        fail(one, 3);
        one.checkPassed(2); // halfway back up
        pass(two, 5);
        fail(two, 2); // two of three towards down
        events.clear();

        Route reloaded = route(apply(first, service(RISE_2_FALL_3, 1, 2, 3), events));

        assertThat(health(reloaded, 1)).isSameAs(one);
        assertThat(health(reloaded, 2)).isSameAs(two);
        assertThat(one.state()).isEqualTo(HealthState.DOWN);
        assertThat(one.checksFailed()).isEqualTo(3);
        assertThat(one.checksPassed()).isEqualTo(1);
        assertThat(two.checksPassed()).isEqualTo(5);
        assertThat(health(reloaded, 3).state()).isEqualTo(HealthState.UP);
        assertThat(events.changes()).as("a reload that changes nobody's state says nothing").isEmpty();
        assertThat(picked(reloaded, 30)).containsExactlyInAnyOrder(backend(reloaded, 2), backend(reloaded, 3));

        // The streaks carried over too: one more pass brings 1 up, one more failure takes 2 down.
        one.checkPassed(2);
        two.checkFailed(3, "timeout");
        assertThat(events.transitions()).containsExactly("10.0.0.1 DOWN->UP", "10.0.0.2 UP->DOWN");
    }

    @Test
    void aResultForAnEndpointARemovedFromThePortChangesNothing() {
        ServiceSnapshot first = apply(service(check(1, 1, false, true), 1, 2), events);
        EndpointHealth one = health(route(first), 1);

        Route reloaded = route(apply(first, service(check(1, 1, false, true), 2, 3), events));
        one.checkFailed(1, "gone");

        assertThat(one.state()).isEqualTo(HealthState.UP);
        assertThat(events.changes()).isEmpty();
        assertThat(reloaded.health().members()).doesNotContain(one).hasSize(2);
    }

    @Test
    void removingTheCheckFromThePolicyBringsADownEndpointBack() {
        ServiceSnapshot first = apply(service(RISE_2_FALL_3, 1, 2), events);
        EndpointHealth one = health(route(first), 1);
        fail(one, 3);
        events.clear();

        Route reloaded = route(apply(first, service(HealthPolicy.NONE, 1, 2), events));

        assertThat(one.state()).isEqualTo(HealthState.UP);
        assertThat(events.transitions()).containsExactly("10.0.0.1 DOWN->UP");
        assertThat(picked(reloaded, 20)).contains(backend(reloaded, 1));

        // A check added back later starts from a clean streak: two failures are not enough.
        Route again = route(apply(first, service(RISE_2_FALL_3, 1, 2), events));
        fail(health(again, 1), 2);
        assertThat(one.state()).isEqualTo(HealthState.UP);
    }

    @Test
    void removingOutlierDetectionEndsAnEjection() {
        HealthPolicy ejecting = HealthPorts.outliers(1, Duration.ofSeconds(30), Duration.ofSeconds(300), 50);
        ServiceSnapshot first = apply(service(ejecting, 1, 2), events);
        Backend one = backend(route(first), 1);
        one.counters().health().connectFailed("refused", 1_000L);
        assertThat(one.counters().health().state()).isEqualTo(HealthState.EJECTED);

        Route reloaded = route(apply(first, service(check(2, 3, false, true), 1, 2), events));

        assertThat(one.counters().health().state()).isEqualTo(HealthState.UP);
        assertThat(events.transitions()).containsExactly("10.0.0.1 UP->EJECTED", "10.0.0.1 EJECTED->UP");
        assertThat(picked(reloaded, 20)).contains(backend(reloaded, 1));
    }

    private static void fail(EndpointHealth endpoint, int times) {
        for (int i = 0; i < times; i++) {
            endpoint.checkFailed(3, "connection refused");
        }
    }

    private static void pass(EndpointHealth endpoint, int times) {
        for (int i = 0; i < times; i++) {
            endpoint.checkPassed(2);
        }
    }
}

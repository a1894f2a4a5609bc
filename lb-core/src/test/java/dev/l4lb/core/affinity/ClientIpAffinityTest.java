package dev.l4lb.core.affinity;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;

import org.junit.jupiter.api.Test;

import dev.l4lb.core.model.Endpoint;
import dev.l4lb.core.sched.Backend;
import dev.l4lb.core.sched.EndpointCounters;
import dev.l4lb.core.sched.RoundRobinScheduler;
import dev.l4lb.core.sched.Scheduler;

class ClientIpAffinityTest {
    /** Long enough that no entry expires during a test; expiry timing itself is Caffeine's and not asserted. */
    private static final Duration TIMEOUT = Duration.ofHours(3);

    private final Backend a = ready(1);
    private final Backend b = ready(2);
    private final Backend c = ready(3);
    private final List<Backend> backends = List.of(a, b, c);

    @Test
    void aClientKeepsItsEndpointWhileOthersAreSpreadRoundRobin() throws Exception {
        ClientIpAffinity affinity = new ClientIpAffinity(new RoundRobinScheduler(backends), backends, TIMEOUT, 100);
        InetAddress sticky = client(1);

        Backend first = affinity.pick(sticky);
        for (int i = 0; i < 50; i++) {
            assertThat(affinity.pick(sticky)).isSameAs(first);
        }
        // New clients still take the round-robin turns the sticky client did not use up.
        assertThat(first).isSameAs(a);
        assertThat(affinity.pick(client(2))).isSameAs(b);
        assertThat(affinity.pick(client(3))).isSameAs(c);
        assertThat(affinity.pick(client(4))).isSameAs(a);
        assertThat(affinity.pick(client(2))).isSameAs(b);
        assertThat(affinity.size()).isEqualTo(4);
    }

    @Test
    void aFailedConnectSendsTheClientElsewhereAndSticksThere() throws Exception {
        ClientIpAffinity affinity = new ClientIpAffinity(new RoundRobinScheduler(backends), backends, TIMEOUT, 100);
        InetAddress client = client(1);
        Backend failed = affinity.pick(client);

        affinity.connectFailed(failed, client);
        Backend retry = affinity.pick(client);

        assertThat(retry).isNotSameAs(failed);
        assertThat(affinity.pick(client)).isSameAs(retry);
        assertThat(failed.counters().connectFailures()).isEqualTo(1);
    }

    @Test
    void aFailureReportedForAnotherEndpointKeepsTheEntry() throws Exception {
        // remove(client, backend): a late failure report from an older attempt must not undo the new choice.
        ClientIpAffinity affinity = new ClientIpAffinity(new RoundRobinScheduler(backends), backends, TIMEOUT, 100);
        InetAddress client = client(1);
        Backend held = affinity.pick(client);
        Backend other = held == a ? b : a;

        affinity.connectFailed(other, client);

        assertThat(affinity.pick(client)).isSameAs(held);
    }

    @Test
    void anEntryForAnIneligibleEndpointIsNotUsed() throws Exception {
        // An inner scheduler that misbehaves once, handing out an endpoint that is not ready: the
        // table must not keep serving it from the entry it recorded.
        Backend notReady = new Backend(new Endpoint(address(9), 1, "", false, false, false), new EndpointCounters());
        Deque<Backend> answers = new ArrayDeque<>(List.of(notReady, a));
        Scheduler scripted = client -> answers.poll();
        ClientIpAffinity affinity = new ClientIpAffinity(scripted, List.of(a, notReady), TIMEOUT, 100);
        InetAddress client = client(1);

        assertThat(affinity.pick(client)).isSameAs(notReady);
        assertThat(affinity.pick(client)).isSameAs(a);
        assertThat(affinity.pick(client)).isSameAs(a); // now held, the scripted scheduler is not asked again
        assertThat(answers).isEmpty();
    }

    @Test
    void noEligibleEndpointGivesNull() throws Exception {
        List<Backend> none = List.of(new Backend(new Endpoint(address(1), 0, "", true, true, false), new EndpointCounters()));
        ClientIpAffinity affinity = new ClientIpAffinity(new RoundRobinScheduler(none), none, TIMEOUT, 100);

        assertThat(affinity.pick(client(1))).isNull();
        assertThat(affinity.size()).isZero();
    }

    @Test
    void countsGoToTheEndpointsThroughTheInnerScheduler() throws Exception {
        ClientIpAffinity affinity = new ClientIpAffinity(new RoundRobinScheduler(backends), backends, TIMEOUT, 100);
        Backend picked = affinity.pick(client(1));
        affinity.opened(picked);
        affinity.opened(picked);
        affinity.closed(picked);

        assertThat(picked.counters().active()).isEqualTo(1);
        assertThat(picked.counters().opened()).isEqualTo(2);
    }

    private static Backend ready(int host) {
        return new Backend(Endpoint.of(address(host)), new EndpointCounters());
    }

    private static InetSocketAddress address(int host) {
        return new InetSocketAddress(InetAddress.getLoopbackAddress(), 9000 + host);
    }

    private static InetAddress client(int n) throws UnknownHostException {
        return InetAddress.getByAddress(new byte[] {10, 0, 0, (byte) n});
    }
}

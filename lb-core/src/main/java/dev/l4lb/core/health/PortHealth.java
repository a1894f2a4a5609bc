package dev.l4lb.core.health;

import java.util.List;

import org.jspecify.annotations.Nullable;

import dev.l4lb.core.model.HealthPolicy;
import dev.l4lb.core.model.OutlierDetection;

/**
 * The health of one service port's endpoints taken together: which are in service, how many
 * are ejected (outlier detection never ejects more than its share), and whether the port fails
 * open because none is left. Carried over across snapshots while the port exists, as its counters
 * are; a snapshot going into service hands it its endpoints and policy ({@link #attach}).
 *
 * <p>Every transition of its endpoints happens under this object's lock: transitions are rare,
 * and whether the port fails open depends on all endpoints at once. The data plane never takes
 * it; it reads {@link #failingOpen()} only for an endpoint that is out.
 */
public final class PortHealth {
    private final String name;
    /** Volatile: written under the lock by attach, read without it by connectFailures on every event loop. */
    private volatile HealthPolicy policy = HealthPolicy.NONE;
    private volatile List<EndpointHealth> members = List.of();
    private HealthListener listener = HealthListener.NONE;
    private volatile boolean failingOpen;
    /** What the listener last heard of {@link #failingOpen}. */
    private boolean reportedFailingOpen;
    /** Endpoints ejected now, for a quick {@link #expireEjections} when none is. */
    private volatile int ejected;
    /** Endpoints neither down nor ejected now. */
    private volatile int up;
    /** Written under the lock, read by metrics and views without it. */
    private volatile long failOpenEntered;

    /** @param name the port's display name ({@code namespace/name:port}), for logs */
    public PortHealth(String name) {
        this.name = name;
    }

    public String name() {
        return name;
    }

    /**
     * Puts the endpoints of a snapshot going into service under this port's health: each takes the
     * policy (a new endpoint starts down when the check says {@code startDown}; state a policy no
     * longer backs is cleared), and endpoints no longer listed leave.
     *
     * @param members the endpoints new connections may go to, by the config's and Kubernetes' rules
     */
    public synchronized void attach(HealthPolicy next, List<EndpointHealth> members, HealthListener events) {
        for (EndpointHealth old : this.members) {
            if (old.port() == this) {
                old.joined(null);
            }
        }
        this.policy = next;
        this.members = List.copyOf(members);
        this.listener = events;
        for (EndpointHealth member : this.members) {
            member.joined(this);
            int out = member.out();
            if (!member.attached) {
                member.attached = true;
                if (next.check().isPresent() && next.check().get().startDown()) {
                    out |= EndpointHealth.CHECK_DOWN;
                }
            }
            if (next.check().isEmpty()) {
                out &= ~EndpointHealth.CHECK_DOWN;
                member.resetCheckStreak();
            }
            if (next.outlierDetection().isEmpty()) {
                out &= ~EndpointHealth.EJECTED;
            }
            if (out != member.out()) {
                move(member, out, (out & EndpointHealth.CHECK_DOWN) != 0
                        ? "starts down (startDown) until its check passes" : null);
            }
        }
        recount();
    }

    /** Sets or clears one of {@code endpoint}'s out bits, for {@code reason}. */
    synchronized void change(EndpointHealth endpoint, int bit, boolean set, @Nullable String reason) {
        if (endpoint.port() != this) {
            return; // removed by a reload while its result was on the way
        }
        int before = endpoint.out();
        int after = set ? before | bit : before & ~bit;
        if (after == before) {
            return;
        }
        if (before == 0 && up == 1 && policy.failOpen()) {
            // The last endpoint in service goes out: fail open first, so that no pick in between
            // finds every endpoint out on a port that fails open.
            failingOpen = true;
        }
        move(endpoint, after, reason);
        recount();
    }

    /**
     * Gives {@code endpoint} the out bits {@code after}: least-load ranks hear when it leaves or
     * re-enters service, the listener when its shown state changes. The caller recounts.
     */
    private void move(EndpointHealth endpoint, int after, @Nullable String reason) {
        int before = endpoint.out();
        HealthState from = endpoint.state();
        endpoint.setOut(after);
        if ((before == 0) != (after == 0)) {
            endpoint.rankChanged();
        }
        HealthState to = endpoint.state();
        if (from != to) {
            listener.endpointChanged(this, endpoint, from, to, reason);
        }
    }

    /** {@code endpoint} has failed {@code inRow} connects in a row: eject it if that is enough and the port's share allows. */
    void connectFailures(EndpointHealth endpoint, int inRow, String reason, long nowNanos) {
        OutlierDetection detection = policy.outlierDetection().orElse(null);
        if (detection == null || inRow < detection.consecutiveConnectFailures()) {
            return;
        }
        synchronized (this) {
            if (endpoint.port() != this || (endpoint.out() & EndpointHealth.EJECTED) != 0
                    || ejected >= detection.maxEjected(members.size())) {
                return;
            }
            if (nowNanos - endpoint.returnedNanos >= detection.maxEjectionTime().toNanos()) {
                endpoint.ejectionsInRow = 0; // served long enough since the last one: start again from the base time
            }
            endpoint.ejectionsInRow++;
            endpoint.countEjection();
            endpoint.resetConnectFailures();
            long length = detection.ejectionTime(endpoint.ejectionsInRow).toNanos();
            endpoint.ejectedUntilNanos = nowNanos + length;
            change(endpoint, EndpointHealth.EJECTED, true, inRow + " connect(s) in a row failed, last: " + reason
                    + "; ejected for " + length / 1_000_000 + " ms");
        }
    }

    /** Returns the endpoints whose ejection has ended by {@code nowNanos}. Cheap when none is ejected. */
    public void expireEjections(long nowNanos) {
        if (ejected == 0) {
            return;
        }
        synchronized (this) {
            for (EndpointHealth member : members) {
                if ((member.out() & EndpointHealth.EJECTED) != 0 && nowNanos - member.ejectedUntilNanos >= 0) {
                    member.returnedNanos = nowNanos;
                    change(member, EndpointHealth.EJECTED, false, null);
                }
            }
        }
    }

    /** Every endpoint is out and the port routes as if all were up. */
    public boolean failingOpen() {
        return failingOpen;
    }

    /** Is every endpoint out (whether or not the port fails open)? False for a port without endpoints. */
    public boolean allOut() {
        return up == 0 && !members().isEmpty();
    }

    /** Times the port has started failing open. */
    public long failOpenEntered() {
        return failOpenEntered;
    }

    public HealthPolicy policy() {
        return policy;
    }

    /** The endpoints under this port's health now. */
    public List<EndpointHealth> members() {
        return members;
    }

    private void recount() {
        int inService = 0;
        int out = 0;
        for (EndpointHealth member : members) {
            if (member.up()) {
                inService++;
            }
            if ((member.out() & EndpointHealth.EJECTED) != 0) {
                out++;
            }
        }
        ejected = out;
        up = inService;
        boolean failing = policy.failOpen() && inService == 0 && !members.isEmpty();
        failingOpen = failing;
        if (failing != reportedFailingOpen) {
            reportedFailingOpen = failing;
            if (failing) {
                failOpenEntered++;
            }
            members.forEach(EndpointHealth::rankChanged);
            listener.failOpenChanged(this, failing);
        }
    }
}

package dev.l4lb.core.sched;

import java.util.List;

import dev.l4lb.core.model.HashKey;
import dev.l4lb.core.model.SchedulerType;

/** Builds the scheduler a port's {@link SchedulerType} names: the one place a type meets its algorithm. */
public final class Schedulers {
    private Schedulers() {
    }

    /** A scheduler of {@code type} over these backends, in service at once: for use on its own. */
    public static Scheduler create(SchedulerType type, List<Backend> backends) {
        Scheduler scheduler = prepare(type, backends);
        scheduler.activate();
        return scheduler;
    }

    /** A scheduler of {@code type} over these backends for a snapshot: not in service until {@link Scheduler#activate}. */
    public static Scheduler prepare(SchedulerType type, List<Backend> backends) {
        return prepare(type, HashKey.CLIENT_IP, backends);
    }

    /** As {@link #prepare(SchedulerType, List)}, the hashing schedulers hashing {@code hashKey}. */
    public static Scheduler prepare(SchedulerType type, HashKey hashKey, List<Backend> backends) {
        return switch (type) {
            case RR -> new RoundRobinScheduler(backends);
            case WRR -> new WeightedRoundRobinScheduler(backends);
            case LC -> new LeastLoadScheduler(backends, LoadOrder.LC);
            case WLC -> new LeastLoadScheduler(backends, LoadOrder.WLC);
            case SED -> new LeastLoadScheduler(backends, LoadOrder.SED);
            case NQ -> new LeastLoadScheduler(backends, LoadOrder.NQ);
            case SH -> new SourceHashingScheduler(backends, hashKey);
            case MH -> new MaglevScheduler(backends, hashKey);
            case P2C -> new PowerOfTwoChoicesScheduler(backends);
            case RANDOM -> new RandomScheduler(backends);
        };
    }
}

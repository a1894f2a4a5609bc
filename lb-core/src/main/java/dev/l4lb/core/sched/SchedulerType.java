package dev.l4lb.core.sched;

import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.function.Function;

/** The schedulers a service port can name in its {@code scheduler:} key, spelled as ipvsadm spells them. */
public enum SchedulerType {
    RR("rr", RoundRobinScheduler::new);

    private final String configName;
    private final Function<List<Backend>, Scheduler> factory;

    SchedulerType(String configName, Function<List<Backend>, Scheduler> factory) {
        this.configName = configName;
        this.factory = factory;
    }

    /** The name used in config files ({@code rr}). */
    public String configName() {
        return configName;
    }

    /** A scheduler over these backends (a new one per snapshot). */
    public Scheduler create(List<Backend> backends) {
        return factory.apply(backends);
    }

    /** The type a config name denotes, if any. */
    public static Optional<SchedulerType> byName(String name) {
        return Arrays.stream(values()).filter(t -> t.configName.equals(name)).findFirst();
    }

    /** Every known name, for error messages. */
    public static List<String> names() {
        return Arrays.stream(values()).map(SchedulerType::configName).toList();
    }
}

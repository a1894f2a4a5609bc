package dev.l4lb.netty;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

import dev.l4lb.core.config.ConfigDiff;

/**
 * What applying a new config did, or why it was rejected.
 *
 * @param applied          true when the new config is in force; false when the old one still is
 * @param changes          services, ports and endpoints added, removed, changed (empty when rejected)
 * @param listenersBound   listener addresses opened for the new config
 * @param listenersClosed  listener addresses closed because the new config no longer has them
 * @param errors           why it was rejected: every validation problem, or the bind failure
 * @param warnings         what the reload could not change (settings read only at start)
 * @param took             from reading the file to the new snapshot being in force
 */
public record Reload(boolean applied, ConfigDiff changes, Set<InetSocketAddress> listenersBound,
                     Set<InetSocketAddress> listenersClosed, List<String> errors, List<String> warnings,
                     Duration took) {

    public Reload {
        // In the order they were bound or closed (Set.copyOf would not keep it).
        listenersBound = Collections.unmodifiableSet(new LinkedHashSet<>(listenersBound));
        listenersClosed = Collections.unmodifiableSet(new LinkedHashSet<>(listenersClosed));
        errors = List.copyOf(errors);
        warnings = List.copyOf(warnings);
    }

    /** A rejected reload: the running config stays in force. */
    public static Reload rejected(List<String> errors, Duration took) {
        return new Reload(false, ConfigDiff.between(List.of(), List.of()), Set.of(), Set.of(), errors, List.of(), took);
    }
}

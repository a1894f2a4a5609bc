package dev.l4lb.core.health;

import java.util.Locale;

/** An endpoint's health as shown: in service, down by its checks, or ejected by outlier detection. */
public enum HealthState {
    UP,
    /** Its active check failed {@code fall} times in a row (or it started down and has not risen yet). */
    DOWN,
    /** Outlier detection took it out until a time. */
    EJECTED;

    /** The name the API, {@code lb list} and the log use: {@code down}. */
    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }
}

package dev.l4lb.core.sched;

import java.time.Instant;
import java.util.Objects;

/**
 * Why a connect to an endpoint failed, and when: the "last error" operators look for first.
 *
 * @param time    when the connect failed
 * @param message the failure as the transport reported it, e.g. "Connection refused"
 */
public record ConnectError(Instant time, String message) {

    public ConnectError {
        Objects.requireNonNull(time, "time");
        Objects.requireNonNull(message, "message");
    }
}

package dev.l4lb.core.model;

import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A rate of new connections, written in configs as {@code 50/s} or {@code 600/m}.
 *
 * <p>A limiter of this rate is a token bucket that holds one second's worth of tokens (at least
 * one): a client that was quiet may open that many at once, then no faster than the rate. One
 * second because clients open connections in bursts (a browser opens six at once, a pool fills
 * itself on start), and a bucket of one token would refuse them while the rate over any second
 * is still kept.
 *
 * @param count new connections allowed ...
 * @param per   ... per this unit: {@link TimeUnit#SECONDS} or {@link TimeUnit#MINUTES}
 */
public record Rate(long count, TimeUnit per) {
    private static final Pattern FORM = Pattern.compile("([0-9]{1,10})/([sm])");
    /** A million a second is more than one host accepts; more is a typo, not a plan. */
    public static final long MAX_PER_SECOND = 1_000_000;

    public Rate {
        if (per != TimeUnit.SECONDS && per != TimeUnit.MINUTES) {
            throw new IllegalArgumentException("a rate is per second or per minute");
        }
        if (!inRange(count, per)) {
            throw new IllegalArgumentException("rate count out of range");
        }
    }

    /** {@code 50/s} or {@code 600/m}; empty for anything else, or a count out of 1..a million a second. */
    public static Optional<Rate> parse(String text) {
        Matcher m = FORM.matcher(text.strip());
        if (!m.matches()) {
            return Optional.empty();
        }
        long count = Long.parseLong(m.group(1));
        TimeUnit per = m.group(2).equals("s") ? TimeUnit.SECONDS : TimeUnit.MINUTES;
        if (!inRange(count, per)) {
            return Optional.empty();
        }
        return Optional.of(new Rate(count, per));
    }

    private static boolean inRange(long count, TimeUnit per) {
        return count >= 1 && count <= MAX_PER_SECOND * (per == TimeUnit.MINUTES ? 60 : 1);
    }

    /** How far ahead of now a bucket may run, in nanoseconds: its burst's worth of tokens. */
    public long toleranceNanos() {
        return intervalNanos() * burst();
    }

    /** Nanoseconds between two tokens. */
    public long intervalNanos() {
        return Math.max(1, per.toNanos(1) / count);
    }

    /** Tokens the bucket holds: one second's worth, at least one (see the type's comment for why). */
    public long burst() {
        return Math.max(1, per == TimeUnit.SECONDS ? count : count / 60);
    }

    @Override
    public String toString() {
        return count + (per == TimeUnit.SECONDS ? "/s" : "/m");
    }
}

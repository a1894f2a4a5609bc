package dev.l4lb.core.sched;

/**
 * One cycle of smooth weighted round-robin over some backends, as positions into their array:
 * each backend appears as often as its weight, interleaved rather than in bursts (weights 5,1,1
 * give a a b a c a a). It is nginx's smooth algorithm run once, ahead of time, so that a pick is
 * an array read instead of a pass over every endpoint under a lock.
 *
 * <p>Weights are first divided by their common divisor. A cycle is capped at
 * {@link #MAX_LENGTH} entries; heavier weight sets are scaled down to fit (each endpoint keeping
 * at least one entry), which changes shares by less than one part in {@code MAX_LENGTH / n}.
 */
final class WeightedSequence {
    /** 64 Ki positions: 256 KiB per service port at most. */
    static final int MAX_LENGTH = 1 << 16;

    private WeightedSequence() {
    }

    /** The cycle, at most {@code max(MAX_LENGTH, backends.length)} long; empty for no backends. */
    static int[] cycle(Backend[] backends) {
        int n = backends.length;
        if (n == 0) {
            return new int[0];
        }
        int[] weights = scaledWeights(backends);
        long total = 0;
        for (int w : weights) {
            total += w;
        }
        int[] sequence = new int[(int) total];
        long[] current = new long[n];
        for (int step = 0; step < sequence.length; step++) {
            int best = 0;
            for (int i = 0; i < n; i++) {
                current[i] += weights[i];
                if (current[i] > current[best]) {
                    best = i;
                }
            }
            current[best] -= total;
            sequence[step] = best;
        }
        return sequence;
    }

    private static int[] scaledWeights(Backend[] backends) {
        int gcd = Eligibility.weightGcd(backends);
        int[] weights = new int[backends.length];
        long total = 0;
        for (int i = 0; i < backends.length; i++) {
            weights[i] = backends[i].weight() / gcd;
            total += weights[i];
        }
        if (total > MAX_LENGTH && total > backends.length) {
            double scale = (double) Math.max(MAX_LENGTH, backends.length) / total;
            for (int i = 0; i < weights.length; i++) {
                weights[i] = Math.max(1, (int) (weights[i] * scale));
            }
        }
        return weights;
    }
}

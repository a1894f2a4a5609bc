package dev.l4lb.core.sched;

import java.util.concurrent.atomic.AtomicIntegerArray;

/**
 * The least-loaded endpoint of a port, kept current as connections open and close: a tournament
 * tree whose every node holds the better of its two children, so the root is the answer. A pick
 * reads the root; a count change replays the matches on one leaf-to-root path (log2 n of them).
 * That is what lets {@code lc} over 1,000 endpoints pick in constant time instead of scanning.
 *
 * <p>Lock-free: nodes are written without locks, so when several event loops change counts at
 * once a node can reflect a count that has moved on, and keep it until the next change on that
 * path (a replay that read older counts may write last). The choice is then approximate, as it is
 * in any proxy while connections are being set up; the counts themselves are always exact. With
 * one thread changing counts at a time, the root is always exact.
 */
final class LoadIndex {
    private final Backend[] backends;
    private final LoadOrder order;
    /** Leaves in the tree: a power of two, at least the number of backends. */
    private final int leaves;
    /** Node k's children are 2k and 2k+1; the root is 1; leaf i is node leaves+i. -1 is nobody. */
    private final AtomicIntegerArray winners;

    LoadIndex(Backend[] backends, LoadOrder order) {
        this.backends = backends;
        this.order = order;
        this.leaves = Integer.highestOneBit(Math.max(1, backends.length - 1)) << 1;
        this.winners = new AtomicIntegerArray(2 * leaves);
        for (int i = 0; i < leaves; i++) {
            winners.set(leaves + i, i < backends.length ? i : -1);
        }
        replayAll();
    }

    /**
     * Starts following the backends' counts: from now on every change of one replays its path.
     * Until then the tree keeps the counts it was built with, so building an index (say, for a
     * snapshot that is then rejected) does not take the counters away from the index in service.
     */
    void attach() {
        for (int i = 0; i < backends.length; i++) {
            backends[i].counters().watchBy(new Slot(this, i));
        }
        replayAll(); // counts that moved before the counters reported here
    }

    private void replayAll() {
        for (int node = leaves - 1; node >= 1; node--) {
            replay(node);
        }
    }

    /** The position of the least-loaded backend, or -1 when there are none. */
    int best() {
        return winners.get(1);
    }

    /** Backend {@code position}'s count changed: replay the matches from its leaf up to the root. */
    void changed(int position) {
        for (int node = (leaves + position) >>> 1; node >= 1; node >>>= 1) {
            replay(node);
        }
    }

    private void replay(int node) {
        int left = winners.get(2 * node);
        int right = winners.get(2 * node + 1);
        int winner;
        if (right < 0) {
            winner = left;
        } else if (left < 0) {
            winner = right;
        } else {
            winner = order.compare(backends[left], backends[right]) <= 0 ? left : right;
        }
        if (winners.getPlain(node) != winner) {
            winners.set(node, winner);
        }
    }

    /** One backend's leaf, which its counters report their changes to. */
    record Slot(LoadIndex index, int position) {
        void changed() {
            index.changed(position);
        }
    }
}

package dev.l4lb.core.sched;

import java.util.concurrent.atomic.AtomicLongArray;

/**
 * The least-loaded endpoint of a port, kept current as connections open and close: a tournament
 * tree whose every node holds the better of its two children, so the root is the answer. A pick
 * reads the root; a count change replays the matches on one leaf-to-root path (log2 n of them,
 * fewer when the change does not move a winner).
 * That is what lets {@code lc} over 1,000 endpoints pick in constant time instead of scanning.
 *
 * <p>Lock-free: nodes are written without locks, so when several event loops change counts at
 * once a node can reflect a count that has moved on, and keep it until the next change on that
 * path (a replay that read older counts may write last). The choice is then approximate, as it is
 * in any proxy while connections are being set up; the counts themselves are always exact. With
 * one thread changing counts at a time, the root is always exact.
 */
final class LoadIndex {
    /** Low bits of a node: the endpoint's position, so that equal ranks go to the first listed. */
    private static final int POSITION_BITS = 20;
    private static final long POSITION_MASK = (1L << POSITION_BITS) - 1;
    /** Ranks above every real one: a leaf with no endpoint. */
    private static final long NOBODY = Long.MAX_VALUE;

    private final Backend[] backends;
    private final LoadOrder order;
    /** Leaves in the tree: a power of two, at least the number of backends. */
    private final int leaves;
    /**
     * Node k's children are 2k and 2k+1; the root is 1; leaf i is node leaves+i. Each node holds
     * its winner as {@code rank << POSITION_BITS | position}: a match is {@code Math.min} of two
     * longs read side by side, and a replay stops where a node comes out unchanged.
     */
    private final AtomicLongArray nodes;

    LoadIndex(Backend[] backends, LoadOrder order) {
        if (backends.length > POSITION_MASK) {
            throw new IllegalArgumentException("a least-load index holds up to " + POSITION_MASK + " endpoints");
        }
        this.backends = backends;
        this.order = order;
        this.leaves = Integer.highestOneBit(Math.max(1, backends.length - 1)) << 1;
        this.nodes = new AtomicLongArray(2 * leaves);
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
        for (int i = 0; i < leaves; i++) {
            nodes.set(leaves + i, i < backends.length ? leaf(i) : NOBODY);
        }
        for (int node = leaves - 1; node >= 1; node--) {
            nodes.set(node, Math.min(nodes.get(2 * node), nodes.get(2 * node + 1)));
        }
    }

    /** The position of the least-loaded backend, or -1 when there are none. */
    int best() {
        long root = nodes.getAcquire(1);
        return root == NOBODY ? -1 : (int) (root & POSITION_MASK);
    }

    /** Backend {@code position}'s count changed: replay the matches from its leaf up. */
    void changed(int position) {
        // Release stores and acquire loads: ordered enough for readers of the root, without the
        // full fence a volatile store costs on every level.
        int node = leaves + position;
        nodes.setRelease(node, leaf(position));
        for (node >>>= 1; node >= 1; node >>>= 1) {
            long winner = Math.min(nodes.getAcquire(2 * node), nodes.getAcquire(2 * node + 1));
            if (nodes.getAcquire(node) == winner) {
                return; // nothing above can change either
            }
            nodes.setRelease(node, winner);
        }
    }

    private long leaf(int position) {
        return order.rank(backends[position]) << POSITION_BITS | position;
    }

    /** One backend's leaf, which its counters report their changes to. */
    record Slot(LoadIndex index, int position) {
        void changed() {
            index.changed(position);
        }
    }
}

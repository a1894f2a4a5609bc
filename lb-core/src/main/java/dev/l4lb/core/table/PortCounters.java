package dev.l4lb.core.table;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;

/**
 * Live counts of one service port: connections open now (for maxConnections and for draining
 * on shutdown), connections ended by {@link Outcome}, and bytes relayed. Carried over across
 * snapshots while the port exists. The port keeps its own byte totals rather than summing its
 * endpoints' so that they stay monotonic when a reload removes an endpoint.
 */
public final class PortCounters implements ProxyHeaderCounts {
    private static final Outcome[] OUTCOMES = Outcome.values();

    private final AtomicInteger active = new AtomicInteger();
    private final LongAdder[] outcomes = new LongAdder[OUTCOMES.length];
    private final LongAdder bytesIn = new LongAdder();
    private final LongAdder bytesOut = new LongAdder();
    private final LongAdder datagramsIn = new LongAdder();
    private final LongAdder datagramsOut = new LongAdder();
    private final LongAdder[] drops = new LongAdder[DatagramDrop.values().length];
    private final LongAdder[] headerRejections = new LongAdder[HeaderRejection.values().length];

    public PortCounters() {
        for (int i = 0; i < outcomes.length; i++) {
            outcomes[i] = new LongAdder();
        }
        for (int i = 0; i < drops.length; i++) {
            drops[i] = new LongAdder();
        }
        for (int i = 0; i < headerRejections.length; i++) {
            headerRejections[i] = new LongAdder();
        }
    }

    /**
     * Counts a new client connection in, unless that would exceed {@code maxConnections}
     * (0 is unlimited). A connection admitted here must be {@link #release released} once.
     */
    public boolean tryAdmit(int maxConnections) {
        int now = active.incrementAndGet();
        if (maxConnections > 0 && now > maxConnections) {
            active.decrementAndGet();
            return false;
        }
        return true;
    }

    /** Ends a connection that {@link #tryAdmit} admitted. */
    public void release() {
        active.decrementAndGet();
    }

    /** Client connections open now. */
    public int active() {
        return active.get();
    }

    public void record(Outcome outcome) {
        outcomes[outcome.ordinal()].increment();
    }

    public long count(Outcome outcome) {
        return outcomes[outcome.ordinal()].sum();
    }

    /** Adds relayed bytes: {@code in} from clients, {@code out} to clients. */
    public void addBytes(long in, long out) {
        if (in != 0) {
            bytesIn.add(in);
        }
        if (out != 0) {
            bytesOut.add(out);
        }
    }

    /** Bytes relayed from clients to endpoints. */
    public long bytesIn() {
        return bytesIn.sum();
    }

    /** Bytes relayed from endpoints to clients. */
    public long bytesOut() {
        return bytesOut.sum();
    }

    /** UDP: counts datagrams relayed, {@code in} from clients and {@code out} to them. */
    public void addDatagrams(long in, long out) {
        if (in != 0) {
            datagramsIn.add(in);
        }
        if (out != 0) {
            datagramsOut.add(out);
        }
    }

    public long datagramsIn() {
        return datagramsIn.sum();
    }

    public long datagramsOut() {
        return datagramsOut.sum();
    }

    /** UDP: a datagram was dropped, for this reason. */
    public void drop(DatagramDrop reason) {
        drops[reason.ordinal()].increment();
    }

    public long dropped(DatagramDrop reason) {
        return drops[reason.ordinal()].sum();
    }

    /** Counts the connection as {@link Outcome#BAD_PROXY_HEADER} and its header's rejection by reason. */
    @Override
    public void headerRejected(HeaderRejection why) {
        record(Outcome.BAD_PROXY_HEADER);
        headerRejections[why.ordinal()].increment();
    }

    public long headersRejected(HeaderRejection reason) {
        return headerRejections[reason.ordinal()].sum();
    }
}

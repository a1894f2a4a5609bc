package dev.l4lb.bench.e2e;

import dev.l4lb.netty.transport.Transport;

/**
 * Exits 0 when the named transport can run here, else prints why and exits 1: lets the harness
 * report "io_uring: not available" instead of failing a path.
 *
 * <p>{@code TransportCheck NAME}
 */
public final class TransportCheck {
    private TransportCheck() {
    }

    public static void main(String[] args) {
        try {
            System.out.println(Transport.select(args[0]).displayName() + " available");
        } catch (IllegalArgumentException e) {
            System.out.println(e.getMessage());
            System.exit(1);
        }
    }
}

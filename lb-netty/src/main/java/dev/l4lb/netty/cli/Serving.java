package dev.l4lb.netty.cli;

import java.util.concurrent.CountDownLatch;

/**
 * Keeps a command's main thread alive until SIGTERM or SIGINT, then runs its shutdown on the
 * JVM's shutdown hook and lets the process exit once that is done.
 */
final class Serving {
    private Serving() {
    }

    static void untilSignalled(Runnable shutdown) {
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                shutdown.run();
            } finally {
                stopped.countDown();
            }
        }, "l4lb-shutdown"));
        try {
            stopped.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}

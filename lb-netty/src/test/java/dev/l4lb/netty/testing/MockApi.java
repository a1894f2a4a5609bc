package dev.l4lb.netty.testing;

import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;

/** Stopping fabric8's mock API server at the end of a test. */
public final class MockApi {
    private MockApi() {
    }

    /**
     * Stops {@code server}. Its Vert.x server may time out closing a connection that a JDK HTTP
     * client still pools (on Java 17 that client cannot be closed; its idle connections outlive
     * it): the server is done with by then, so that is not the test's failure.
     */
    public static void stop(KubernetesMockServer server) {
        try {
            server.destroy();
        } catch (IllegalStateException closeTimedOut) {
            System.err.println("mock API server: " + closeTimedOut.getMessage() + " (a pooled client connection); going on");
        }
    }
}

package dev.l4lb.core.kube;

import java.util.Set;

import dev.l4lb.core.model.Protocol;

/**
 * Hands out the proxy listener port of each ClusterIP service port and keeps it while the port
 * exists, so a resync does not move listeners (and the portals pointing at them).
 */
public interface ProxyPorts {

    /**
     * The proxy port of {@code key} ({@code namespace/name:port/protocol}): the one it had, or a
     * new one.
     *
     * @throws IllegalStateException when no port is left
     */
    int portFor(String key, Protocol protocol);

    /** Forgets every key but these, so their ports may be handed out again. */
    void retainOnly(Set<String> keys);

    /** Is this port handed out now? */
    boolean handedOut(int port);

    /** Tells the allocator that this port could not be bound; its key gets another on its next call. */
    void unusable(int port);
}

package dev.l4lb.core.config;

import java.net.InetAddress;
import java.net.InetSocketAddress;

/**
 * Where the admin endpoints listen; kube-proxy's defaults (metrics 127.0.0.1:10249, health
 * 127.0.0.1:10256).
 *
 * @param metrics address of the metrics and mode endpoints
 * @param healthz address of the health endpoint
 */
public record AdminConfig(InetSocketAddress metrics, InetSocketAddress healthz) {

    public static AdminConfig defaults() {
        InetAddress loopback = InetAddress.getLoopbackAddress();
        return new AdminConfig(new InetSocketAddress(loopback, 10249), new InetSocketAddress(loopback, 10256));
    }
}

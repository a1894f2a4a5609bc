package dev.l4lb.core.config;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.List;

/**
 * Where the admin endpoints listen; kube-proxy's defaults (metrics 127.0.0.1:10249, health
 * 127.0.0.1:10256).
 *
 * @param metrics      address of the metrics and mode endpoints
 * @param healthz      address of the health endpoint
 * @param allowedHosts DNS names the metrics address answers to in a request's {@code Host}, beside
 *                     IP literals and {@code localhost} (which it always answers to); lower case
 */
public record AdminConfig(InetSocketAddress metrics, InetSocketAddress healthz, List<String> allowedHosts) {

    public AdminConfig {
        allowedHosts = List.copyOf(allowedHosts);
    }

    /** Answering to IP literals and {@code localhost} only. */
    public AdminConfig(InetSocketAddress metrics, InetSocketAddress healthz) {
        this(metrics, healthz, List.of());
    }

    public static AdminConfig defaults() {
        InetAddress loopback = InetAddress.getLoopbackAddress();
        return new AdminConfig(new InetSocketAddress(loopback, 10249), new InetSocketAddress(loopback, 10256));
    }
}

/**
 * The admin HTTP server: the stats page, {@code /api/v1/services}, Prometheus metrics, reload and
 * health endpoints, bounded in connections and time. Belongs here: what an operator reaches over
 * HTTP; Kubernetes' own health servers live in {@code kube}.
 */
package dev.l4lb.netty.admin;

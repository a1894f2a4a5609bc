/**
 * The balancer's Micrometer/Prometheus metrics, read from the counters the data plane keeps (no
 * metric call on the hot path). Belongs here: meter names, tags and their binding to a snapshot.
 */
package dev.l4lb.netty.metrics;

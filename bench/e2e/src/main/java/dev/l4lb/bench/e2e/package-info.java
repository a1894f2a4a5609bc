/**
 * The end-to-end comparison harness driven by {@code bench/e2e/run}: load generators, configs for
 * the scale runs and the report with its charts, comparing l4lb with the kernel (iptables, IPVS)
 * and HAProxy side by side. Belongs here: what measures whole processes; microbenchmarks are
 * {@code bench-jmh}'s.
 */
package dev.l4lb.bench.e2e;

/**
 * JMH microbenchmarks of the hot path (lookups, picks, affinity, admission counting, PROXY
 * headers, connection setup), each a small class with parameters for the sizes that matter.
 * Belongs here: benchmarks only; the library code has no benchmark hooks.
 */
package dev.l4lb.bench;

/**
 * The schedulers that pick an endpoint for a client, one class per algorithm behind {@link
 * dev.l4lb.core.sched.Scheduler} (IPVS's family and Maglev), and the per-endpoint counters they
 * read. Belongs here: a pick and what it needs, allocation-free; admission to a port is {@code
 * table}'s.
 *
 * <p>Null-marked: a type is non-null unless it says {@code @Nullable}.
 */
@NullMarked
package dev.l4lb.core.sched;

import org.jspecify.annotations.NullMarked;

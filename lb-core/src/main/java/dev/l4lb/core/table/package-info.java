/**
 * What the data plane reads: the immutable snapshot of routes built from a config, the one
 * routing table that swaps snapshots in, a client's admission to a port (source ranges, limits,
 * picks with exclusions) and the per-port counters and outcomes. Belongs here: every decision
 * about a new connection or session that needs no socket.
 *
 * <p>Null-marked: a type is non-null unless it says {@code @Nullable}.
 */
@NullMarked
package dev.l4lb.core.table;

import org.jspecify.annotations.NullMarked;

/**
 * The immutable values everything else speaks of: services, their ports and endpoints, the
 * policies a port carries (scheduler, affinity, PROXY protocol, limits, source ranges) and
 * address helpers. Belongs here: records and enums with their own validation, nothing that reads
 * files or holds state.
 *
 * <p>Null-marked: a type is non-null unless it says {@code @Nullable}.
 */
@NullMarked
package dev.l4lb.core.model;

import org.jspecify.annotations.NullMarked;

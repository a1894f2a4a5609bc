/**
 * Active health checks: each endpoint of a port with a {@code healthCheck} probed on its own
 * schedule from one event loop ({@code HealthChecker}, {@code CheckTarget}), results handed to
 * lb-core's {@code EndpointHealth}; outlier ejections expired on the same loop; transitions
 * logged ({@code HealthLog}). Belongs here: the probes' sockets and timers.
 *
 * <p>Null-marked: a type is non-null unless it says {@code @Nullable}.
 */
@NullMarked
package dev.l4lb.netty.health;

import org.jspecify.annotations.NullMarked;

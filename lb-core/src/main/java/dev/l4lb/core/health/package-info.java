/**
 * Endpoint health at run time: whether an endpoint is in service by its active checks and by
 * outlier detection from real traffic, and whether a port whose endpoints are all out fails
 * open. Belongs here: the state and its rules; the probes themselves run in lb-netty.
 *
 * <p>Null-marked: a type is non-null unless it says {@code @Nullable}.
 */
@NullMarked
package dev.l4lb.core.health;

import org.jspecify.annotations.NullMarked;

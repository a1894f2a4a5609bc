/**
 * Per-client limits, stick-table style: a bounded table of clients (least recently seen evicted
 * first) with each one's open connections and its rate bucket, and the port's own rate. Belongs
 * here: deciding whether a client may open one more connection, without a socket.
 *
 * <p>Null-marked: a type is non-null unless it says {@code @Nullable}.
 */
@NullMarked
package dev.l4lb.core.limits;

import org.jspecify.annotations.NullMarked;

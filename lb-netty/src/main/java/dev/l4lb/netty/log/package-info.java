/**
 * The connection log: one line per closed TCP connection or UDP session, gathered while it lives
 * and written off the event loops, bounded, dropping rather than blocking. Belongs here: the
 * log's record, its line formats and its writer.
 *
 * <p>Null-marked: a type is non-null unless it says {@code @Nullable}.
 */
@NullMarked
package dev.l4lb.netty.log;

import org.jspecify.annotations.NullMarked;

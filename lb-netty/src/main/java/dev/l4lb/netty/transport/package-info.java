/**
 * The socket layer both data planes stand on: the native transport chosen at start (io_uring,
 * epoll or NIO) and its options, listener sockets bound and switched without dropping anything,
 * and what pauses accepting (descriptor budget, failed accepts). Belongs here: Netty transport
 * concerns shared by TCP and UDP, nothing protocol-specific.
 *
 * <p>Null-marked: a type is non-null unless it says {@code @Nullable}.
 */
@NullMarked
package dev.l4lb.netty.transport;

import org.jspecify.annotations.NullMarked;

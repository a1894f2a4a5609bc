/**
 * The UDP data plane: listener sockets, each with its table of client sessions, a session being
 * one client with its own connected socket to the endpoint chosen for it, ended by idle time, a
 * reload or ICMP unreachable. Belongs here: whatever runs on an event loop for UDP.
 *
 * <p>Null-marked: a type is non-null unless it says {@code @Nullable}.
 */
@NullMarked
package dev.l4lb.netty.udp;

import org.jspecify.annotations.NullMarked;

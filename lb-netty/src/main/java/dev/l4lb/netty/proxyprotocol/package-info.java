/**
 * The PROXY protocol v1/v2 on top of netty-codec-haproxy: reading a trusted upstream's header
 * (bounded in size and time) and building the header sent to endpoints. Belongs here: the
 * protocol's use at both ends of a connection.
 *
 * <p>Null-marked: a type is non-null unless it says {@code @Nullable}.
 */
@NullMarked
package dev.l4lb.netty.proxyprotocol;

import org.jspecify.annotations.NullMarked;

/**
 * The TCP data plane: listeners and the life of one connection by role: accept and admission
 * ({@code TcpAcceptHandler}), the backend connect with its retries and PROXY header ({@code
 * BackendConnector}), and the relay both ways with backpressure and half-close ({@code TcpRelay},
 * {@code TcpRelayHandler}), plus the guards around them (descriptor budget, idle timer,
 * shutdown). Belongs here: whatever runs on an event loop for a TCP connection.
 *
 * <p>Null-marked: a type is non-null unless it says {@code @Nullable}.
 */
@NullMarked
package dev.l4lb.netty.tcp;

import org.jspecify.annotations.NullMarked;

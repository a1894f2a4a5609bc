/**
 * The running balancer: {@link dev.l4lb.netty.Balancer} starts the data planes on their event
 * loops, applies a config and reloads it without dropping a connection. Belongs here: the wiring
 * of one balancer process; each data plane, the transport and the servers around it have packages
 * of their own.
 */
package dev.l4lb.netty;

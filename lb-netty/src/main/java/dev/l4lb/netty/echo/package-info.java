/**
 * A small TCP/UDP echo and HTTP server used as the demo's and the tests' backends; it reports the
 * PROXY header it was sent. Belongs here: the test pods of {@code lb demo}; nothing the balancer
 * itself uses.
 */
package dev.l4lb.netty.echo;

package dev.l4lb.netty.proxyprotocol;

import java.net.InetSocketAddress;

/**
 * The user event {@link ProxyHeaderReader} fires once a trusted upstream's header is read: the
 * addresses the connection stands for from then on.
 *
 * @param client      the real client (the header's source; the upstream itself for LOCAL)
 * @param destination the address the client connected to (the header's destination)
 */
public record ProxiedAddresses(InetSocketAddress client, InetSocketAddress destination) {
}

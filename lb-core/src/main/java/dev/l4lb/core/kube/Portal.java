package dev.l4lb.core.kube;

import java.net.InetAddress;
import java.util.Objects;

import dev.l4lb.core.model.Protocol;

/**
 * One address:port that is not the balancer's own and must be steered to it by the kernel: a
 * ClusterIP service port, which the userspace proxier reached with iptables rules (portals) that
 * redirect it to the port's proxy listener.
 *
 * @param service   {@code namespace/name:port}, for rule comments and logs
 * @param protocol  TCP or UDP
 * @param address   the ClusterIP (or another address the node does not own)
 * @param port      the service port
 * @param proxyPort the proxy listener's port on the node, where REDIRECT sends the traffic
 */
public record Portal(String service, Protocol protocol, InetAddress address, int port, int proxyPort) {

    public Portal {
        Objects.requireNonNull(service, "service");
        Objects.requireNonNull(protocol, "protocol");
        Objects.requireNonNull(address, "address");
        if (port < 1 || port > 65535 || proxyPort < 1 || proxyPort > 65535) {
            throw new IllegalArgumentException("ports must be 1..65535: " + port + " -> " + proxyPort);
        }
    }
}

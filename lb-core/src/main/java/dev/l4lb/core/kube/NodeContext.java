package dev.l4lb.core.kube;

import java.net.InetAddress;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.Set;

import dev.l4lb.core.model.Addresses;
import dev.l4lb.core.model.Cidr;

/**
 * What the proxier knows of the node it serves, which decides what a Service means here: which
 * endpoints are local, which externalIPs and load-balancer IPs this node owns, where node ports
 * and proxy listeners are bound, and whether TCP ClusterIPs arrive through a transparent listener.
 *
 * @param nodeName          this node's name, as EndpointSlice endpoints name theirs
 * @param localAddresses    the addresses of this node's interfaces
 * @param nodePortAddresses node ports are served on the local addresses in these ranges; empty: on all
 * @param bindAddress       where proxy listeners are bound ({@code 0.0.0.0}: the portals' REDIRECT
 *                          sends traffic to the receiving interface's address)
 * @param transparentTcp    TCP ClusterIP traffic reaches the balancer through the TPROXY portals'
 *                          transparent listener, so TCP ports need no proxy listener of their own
 * @param clusterCidrs      the cluster's pod ranges (kube-proxy's {@code --cluster-cidr}): clients in
 *                          them are inside the cluster, which externalTrafficPolicy Local does not
 *                          keep to local endpoints; empty when not given
 */
public record NodeContext(String nodeName, Set<InetAddress> localAddresses, List<Cidr> nodePortAddresses,
                          InetAddress bindAddress, boolean transparentTcp, List<Cidr> clusterCidrs) {

    public NodeContext {
        Objects.requireNonNull(nodeName, "nodeName");
        localAddresses = Set.copyOf(localAddresses);
        nodePortAddresses = List.copyOf(nodePortAddresses);
        Objects.requireNonNull(bindAddress, "bindAddress");
        clusterCidrs = List.copyOf(clusterCidrs);
    }

    /** A node whose pod ranges are not known. */
    public NodeContext(String nodeName, Set<InetAddress> localAddresses, List<Cidr> nodePortAddresses,
                       InetAddress bindAddress, boolean transparentTcp) {
        this(nodeName, localAddresses, nodePortAddresses, bindAddress, transparentTcp, List.of());
    }

    /** This node with other interface addresses. */
    public NodeContext withLocalAddresses(Set<InetAddress> addresses) {
        return new NodeContext(nodeName, addresses, nodePortAddresses, bindAddress, transparentTcp, clusterCidrs);
    }

    /** This node with TCP ClusterIPs delivered (or not) through a transparent listener. */
    public NodeContext withTransparentTcp(boolean transparent) {
        return new NodeContext(nodeName, localAddresses, nodePortAddresses, bindAddress, transparent, clusterCidrs);
    }

    /** The local addresses in {@code nodePortAddresses} (all of them when that is empty), in text order. */
    public List<InetAddress> nodePortLocalAddresses() {
        return localAddresses.stream()
                .filter(address -> nodePortAddresses.isEmpty() || Cidr.anyContains(nodePortAddresses, address))
                .sorted(Comparator.comparing(Addresses::formatIp))
                .toList();
    }

    /** Is this address one the node owns (so that traffic to it arrives here)? */
    public boolean isLocal(InetAddress address) {
        return localAddresses.contains(address);
    }
}

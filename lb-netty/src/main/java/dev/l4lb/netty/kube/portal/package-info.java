/**
 * Portals: the kernel rules that steer ClusterIP traffic to the balancer, and nothing else.
 * kube-proxy userspace's REDIRECT rules ({@code IptablesPortals}), the constant TPROXY rule set
 * with its policy routing ({@code TproxyPortals}), the chains l4lb owns and how they are written
 * and removed ({@code OwnedChains}), the iptables and ip tools they run ({@code NetworkCommands}),
 * and what a sync or {@code lb kube --cleanup} asks of them. No Netty here: the proxier in the
 * parent package decides what the rules say, this package only puts them in the kernel.
 */
package dev.l4lb.netty.kube.portal;

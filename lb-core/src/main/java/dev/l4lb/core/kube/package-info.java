/**
 * Kubernetes' view of services turned into this balancer's: Services, EndpointSlices and Nodes
 * (from manifests or the API) translated into the model as kube-proxy would serve them (traffic
 * policies, topology, proxy ports and portals), and kube-proxy's health rules. Belongs here: the
 * decisions, with no I/O; watching the API and installing kernel rules live in lb-netty's {@code
 * kube}.
 *
 * <p>Null-marked: a type is non-null unless it says {@code @Nullable}.
 */
@NullMarked
package dev.l4lb.core.kube;

import org.jspecify.annotations.NullMarked;

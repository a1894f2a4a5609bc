/**
 * The Kubernetes proxier: watching Services, EndpointSlices and Nodes (or reading manifests),
 * turning them into the balancer's config through lb-core's {@code kube}, and kube-proxy's per-
 * service health check servers. Belongs here: the process side of {@code lb kube}; the kernel
 * rules that steer traffic to the balancer are {@code kube.portal}'s.
 */
package dev.l4lb.netty.kube;

package dev.l4lb.netty.kube;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.l4lb.core.kube.ClusterObjects;
import dev.l4lb.core.kube.ClusterServices;

/**
 * The cluster's Services and EndpointSlices as fabric8's informers keep them: a list, then a
 * watch, relisting after a watch is lost. Every event only says "changed"; the proxier reads the
 * informers' stores whole at its next sync, so a relist is just another change.
 */
public final class ApiWatch implements ClusterSource {
    /**
     * Services and slices another proxy serves are not ours, as kube-proxy's informers select
     * them out (the {@code service.kubernetes.io/service-proxy-name} label).
     */
    static final String SERVICE_PROXY_NAME = "service.kubernetes.io/service-proxy-name";

    private static final Logger LOG = LoggerFactory.getLogger(ApiWatch.class);

    private final KubernetesClient client;
    private final SharedIndexInformer<Service> services;
    private final SharedIndexInformer<EndpointSlice> slices;
    /** This node's Node object alone; null when it cannot be watched (no RBAC for nodes). */
    private volatile SharedIndexInformer<Node> node;

    private ApiWatch(KubernetesClient client, SharedIndexInformer<Service> services, SharedIndexInformer<EndpointSlice> slices) {
        this.client = client;
        this.services = services;
        this.slices = slices;
    }

    /**
     * Starts the informers and waits until each has listed once: Services and EndpointSlices,
     * and the Node named {@code nodeName} (its zone label and deletion, as kube-proxy watches it).
     * A Node that cannot be listed (no RBAC for nodes) is logged once and done without.
     *
     * @param client   owned by the watch from now on: closed with it
     * @param onChange called on every add, update and delete (on an informer thread)
     * @throws IllegalStateException when the API does not answer the first lists in {@code timeoutSeconds}
     */
    public static ApiWatch start(KubernetesClient client, String nodeName, Runnable onChange, long timeoutSeconds) {
        ResourceEventHandler<Object> handler = new ResourceEventHandler<>() {
            @Override
            public void onAdd(Object obj) {
                onChange.run();
            }

            @Override
            public void onUpdate(Object oldObj, Object newObj) {
                onChange.run();
            }

            @Override
            public void onDelete(Object obj, boolean deletedFinalStateUnknown) {
                onChange.run();
            }
        };
        SharedIndexInformer<Service> services = client.services().inAnyNamespace().withoutLabel(SERVICE_PROXY_NAME)
                .runnableInformer(0);
        SharedIndexInformer<EndpointSlice> slices = client.discovery().v1().endpointSlices().inAnyNamespace()
                .withoutLabel(SERVICE_PROXY_NAME).runnableInformer(0);
        services.addEventHandler(handler);
        slices.addEventHandler(handler);
        ApiWatch watch = new ApiWatch(client, services, slices);
        try {
            CompletableFuture.allOf(services.start().toCompletableFuture(), slices.start().toCompletableFuture())
                    .get(timeoutSeconds, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            watch.close();
            throw new IllegalStateException("interrupted while listing Services and EndpointSlices", e);
        } catch (ExecutionException | TimeoutException e) {
            watch.close();
            Throwable cause = e instanceof ExecutionException ? e.getCause() : e;
            throw new IllegalStateException("cannot list Services and EndpointSlices from " + client.getMasterUrl()
                    + ": " + cause, cause);
        }
        try {
            watch.node = watchNode(client, nodeName, onChange, timeoutSeconds);
        } catch (RuntimeException e) {
            watch.close();
            throw e;
        }
        return watch;
    }

    /**
     * An informer on the Node named {@code nodeName}, listed once; null when the API refuses it
     * (401, 403: no RBAC for nodes), which is logged once. Only changes that matter to the proxier
     * (its zone label, its deletion or deletion taint, its coming and going) call {@code onChange}:
     * kubelet's status updates do not each cost a sync.
     *
     * @throws IllegalStateException when the first list fails otherwise, as for Services
     */
    private static SharedIndexInformer<Node> watchNode(KubernetesClient client, String nodeName, Runnable onChange,
                                                        long timeoutSeconds) {
        SharedIndexInformer<Node> nodes = client.nodes().withField("metadata.name", nodeName).runnableInformer(0);
        nodes.addEventHandler(new ResourceEventHandler<>() {
            @Override
            public void onAdd(Node node) {
                onChange.run();
            }

            @Override
            public void onUpdate(Node before, Node after) {
                if (!ClusterServices.zoneOf(before).equals(ClusterServices.zoneOf(after))
                        || KubeProxier.eligible(before) != KubeProxier.eligible(after)) {
                    onChange.run();
                }
            }

            @Override
            public void onDelete(Node node, boolean deletedFinalStateUnknown) {
                onChange.run();
            }
        });
        try {
            nodes.start().toCompletableFuture().get(timeoutSeconds, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            nodes.close();
            throw new IllegalStateException("interrupted while listing Node " + nodeName, e);
        } catch (ExecutionException | TimeoutException e) {
            nodes.close();
            Throwable cause = e instanceof ExecutionException ? e.getCause() : e;
            KubernetesClientException refused = null;
            for (Throwable t = cause; t != null && refused == null; t = t.getCause()) {
                refused = t instanceof KubernetesClientException k && (k.getCode() == 401 || k.getCode() == 403) ? k : null;
            }
            if (refused != null) {
                LOG.warn("not allowed to watch Node {} ({}); topology hints and the node's deletion are not followed",
                        nodeName, refused.getStatus() != null ? refused.getStatus().getMessage() : refused.getCode());
                return null;
            }
            throw new IllegalStateException("cannot list Node " + nodeName + " from " + client.getMasterUrl() + ": " + cause, cause);
        } catch (RuntimeException e) {
            nodes.close();
            throw e;
        }
        if (nodes.getStore().list().isEmpty()) {
            LOG.warn("the API has no Node named {} (is --node-name the name the node registered?); "
                    + "topology hints are not used until it appears", nodeName);
        }
        return nodes;
    }

    @Override
    public ClusterObjects objects() {
        SharedIndexInformer<Node> self = node;
        return new ClusterObjects(services.getStore().list(), slices.getStore().list(),
                self == null ? List.of() : self.getStore().list());
    }

    @Override
    public void close() {
        services.close();
        slices.close();
        SharedIndexInformer<Node> self = node;
        if (self != null) {
            self.close();
        }
        client.close();
    }
}

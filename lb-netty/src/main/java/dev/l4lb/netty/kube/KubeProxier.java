package dev.l4lb.netty.kube;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.l4lb.core.model.HealthPolicy;
import dev.l4lb.core.model.Protocol;
import dev.l4lb.core.config.AdminConfig;
import dev.l4lb.core.config.BalancerConfig;
import dev.l4lb.core.kube.ClusterObjects;
import dev.l4lb.core.kube.ClusterServices;
import dev.l4lb.core.kube.NodeContext;
import dev.l4lb.core.kube.ProxierHealth;
import dev.l4lb.core.kube.ProxierPlan;
import dev.l4lb.core.kube.ProxyPorts;
import dev.l4lb.core.model.Addresses;
import dev.l4lb.core.model.Cidr;
import dev.l4lb.core.model.Service;
import dev.l4lb.core.model.ServicePort;
import dev.l4lb.netty.Balancer;
import dev.l4lb.netty.kube.portal.PortalProgram;
import dev.l4lb.netty.kube.portal.ReplyPath;
import dev.l4lb.netty.transport.BindFailure;

/**
 * The userspace proxier: turns the cluster's Services and EndpointSlices into the balancer's
 * config, its portals and its health check node ports, again after every change. Changes are
 * coalesced like kube-proxy's bounded-frequency runner: a sync runs at most once per
 * {@code minSyncPeriod}, and at least once per {@code syncPeriod} (which also repairs portals
 * someone else flushed). Each sync swaps a new snapshot in, so connections in flight carry on.
 */
public final class KubeProxier implements AutoCloseable {
    /** What {@code --health-checks} asks of every TCP port; {@link HealthPolicy#NONE} without it. */
    private final HealthPolicy endpointHealth;
    private static final Logger LOG = LoggerFactory.getLogger(KubeProxier.class);
    /** Listeners a sync leaves out, one at a time, before it gives up until the next sync. */
    private static final int MAX_BIND_RETRIES = 32;

    private final Balancer balancer;
    private final ClusterSource source;
    /** Replaced only by the sync thread, when the host's addresses change. */
    private volatile NodeContext node;
    /** The subnets on this host's interfaces, read again at each periodic sync (a bridge's, for the data plane). */
    private volatile List<Cidr> subnets = LocalAddresses.onLinkSubnets();
    private final java.util.function.Supplier<java.util.Set<java.net.InetAddress>> hostAddresses;
    private final ProxyPorts proxyPorts;
    private final PortalProgram portals;
    private final ServiceHealthServers healthChecks;
    private final ProxierHealth health;
    private final AdminConfig admin;
    private final Duration minSyncPeriod;
    private final ScheduledExecutorService runner;
    /** Listeners the last syncs could not bind: left out until the next periodic sync tries them again. */
    private final Set<InetSocketAddress> unbindable = new HashSet<>();
    private final Set<String> reportedSkips = new HashSet<>();
    private ScheduledFuture<?> pending;
    private long lastSyncNanos;
    private volatile ProxierPlan plan;
    /** Whether a Node of this node's name has been seen (written by the sync thread only). */
    private boolean nodeSeen;
    /** The Cluster Autoscaler's taint on a node it is about to delete. */
    static final String TO_BE_DELETED_TAINT = "ToBeDeletedByClusterAutoscaler";
    /**
     * Set when shutdown begins: a sync still running then (a slow iptables-restore outlasting
     * {@link #stopSyncing()}'s wait) changes nothing more, neither the draining balancer nor the
     * closed health check servers.
     */
    private volatile boolean stopping;
    /**
     * False while the constructor runs: the source may report a change before the proxier is
     * built, and such a change needs no sync of its own, since {@link #syncNow()}, which every
     * start runs next, reads it.
     */
    private volatile boolean built;

    /**
     * @param balancer      started with the admin addresses and no services; the proxier fills it
     * @param sources       makes the source of Services and EndpointSlices, given what to call
     *                      when they change; the proxier reads it and closes it
     * @param healthChecks  the healthCheckNodePort servers
     * @param health        what the node's /healthz reports: queued changes and finished syncs
     * @param hostAddresses read again at each periodic sync; null to keep the node's addresses as given
     */
    public KubeProxier(Balancer balancer, Function<Runnable, ClusterSource> sources, NodeContext node, ProxyPorts proxyPorts,
                       PortalProgram portals, ServiceHealthServers healthChecks, ProxierHealth health,
                       Duration minSyncPeriod, Duration syncPeriod,
                       java.util.function.Supplier<java.util.Set<java.net.InetAddress>> hostAddresses,
                       HealthPolicy endpointHealth) {
        this.balancer = balancer;
        this.endpointHealth = endpointHealth;
        this.node = node;
        this.hostAddresses = hostAddresses;
        this.proxyPorts = proxyPorts;
        this.portals = portals;
        this.healthChecks = healthChecks;
        this.health = health;
        this.admin = balancer.config().admin();
        this.minSyncPeriod = minSyncPeriod;
        // The source first: when it cannot start (an API server that does not answer), no sync thread is left behind.
        this.source = sources.apply(this::changed);
        this.runner = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread thread = new Thread(r, "l4lb-proxier-sync");
            thread.setDaemon(true);
            return thread;
        });
        runner.scheduleWithFixedDelay(this::periodicSync, syncPeriod.toMillis(), syncPeriod.toMillis(), TimeUnit.MILLISECONDS);
        built = true;
    }

    /**
     * Something changed in the cluster (an informer event, a SIGHUP'd manifest): queues a sync,
     * no sooner than {@code minSyncPeriod} after the last one.
     */
    public void changed() {
        if (!built) {
            return; // the first sync, which comes next, reads it
        }
        if (runner.isShutdown()) {
            return; // stopping: events of the last moments change nothing any more
        }
        health.queued(Instant.now());
        synchronized (this) {
            if (pending != null) {
                return; // the sync already queued has not read the objects yet: it will see this change
            }
            long wait = Math.max(0, lastSyncNanos + minSyncPeriod.toNanos() - System.nanoTime());
            try {
                pending = runner.schedule(this::sync, wait, TimeUnit.NANOSECONDS);
            } catch (java.util.concurrent.RejectedExecutionException stopping) {
                pending = null; // stopped between the check above and here
            }
        }
    }

    /** Runs a sync now, on the sync thread, and waits for it: for start-up and tests. */
    public void syncNow() {
        try {
            runner.submit(this::sync).get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (java.util.concurrent.ExecutionException e) {
            throw new IllegalStateException("sync failed", e.getCause());
        }
    }

    /** What the last sync made of the cluster; null before the first. */
    public ProxierPlan plan() {
        return plan;
    }

    private void periodicSync() {
        unbindable.clear(); // try again what could not be bound before
        subnets = LocalAddresses.onLinkSubnets();
        if (hostAddresses != null) {
            try {
                java.util.Set<java.net.InetAddress> now = hostAddresses.get();
                if (!now.equals(node.localAddresses())) {
                    LOG.info("this host's addresses changed: now {}", now.stream().map(Addresses::formatIp).sorted().toList());
                    node = node.withLocalAddresses(now);
                }
            } catch (RuntimeException e) {
                LOG.warn("cannot read this host's addresses; keeping those known: {}", e.getMessage());
            }
        }
        sync();
    }

    private void sync() {
        synchronized (this) {
            // From here on the objects are read: a change after this point needs a sync of its own.
            pending = null;
            lastSyncNanos = System.nanoTime();
        }
        try {
            long started = System.nanoTime();
            ClusterObjects objects = source.objects();
            for (int attempt = 0; ; attempt++) {
                io.fabric8.kubernetes.api.model.Node self = objects.node(node.nodeName());
                if (self != null) {
                    nodeSeen = true;
                }
                // A Node seen and then gone was deleted: not eligible, as kube-proxy's OnNodeDelete leaves it.
                health.nodeEligible(self != null ? eligible(self) : !nodeSeen);
                ProxierPlan next = ClusterServices.translate(objects, node, proxyPorts);
                balancer.clientSources().node(node.localAddresses(), subnets);
                reportSkips(next);
                BalancerConfig config = new BalancerConfig(withoutUnbindable(checked(next.services())), admin);
                if (stopping) {
                    return;
                }
                if (!config.equals(balancer.config())) {
                    try {
                        if (!balancer.reloadOrFail(config, started).applied()) {
                            // Logged and counted by the balancer; nothing of this plan is in force, so
                            // neither portals nor health may say it is. The next change or period tries again.
                            return;
                        }
                    } catch (BindFailure e) {
                        if (attempt >= MAX_BIND_RETRIES) {
                            balancer.reject(List.of(e.getMessage(), "gave up after " + attempt + " listeners could not be bound"), started);
                            return;
                        }
                        leaveOut(e);
                        continue;
                    }
                }
                boolean portalsWritten = portals.sync(next);
                ReplyPath.Status replies = portals.replyPath(); // a family whose reply path is gone connects from the node
                balancer.clientSources().replyPath(replies.ipv4(), replies.ipv6(), replies.endpoints());
                if (stopping) {
                    return;
                }
                healthChecks.sync(next.healthChecks());
                plan = next;
                // As kube-proxy's syncProxyRules: rules that failed to apply are no sync for
                // /healthz, which turns 503 once a change has waited past the health timeout;
                // the next sync writes them again.
                if (portalsWritten) {
                    health.updated(Instant.now());
                }
                return;
            }
        } catch (RuntimeException e) {
            // A bug, not the cluster's doing: the running config stays, the next change or period tries again.
            LOG.error("proxier sync failed; the running config stays", e);
        }
    }

    /**
     * kube-proxy's SyncNode: a node being deleted, or tainted ToBeDeletedByClusterAutoscaler, is
     * not eligible; one the proxier has no Node object for is.
     */
    static boolean eligible(io.fabric8.kubernetes.api.model.Node self) {
        if (self == null) {
            return true;
        }
        if (self.getMetadata() != null && self.getMetadata().getDeletionTimestamp() != null) {
            return false;
        }
        if (self.getSpec() != null && self.getSpec().getTaints() != null) {
            for (io.fabric8.kubernetes.api.model.Taint taint : self.getSpec().getTaints()) {
                if (TO_BE_DELETED_TAINT.equals(taint.getKey())) {
                    return false;
                }
            }
        }
        return true;
    }

    /**
     * A listener that cannot be bound is left out rather than holding up every other change, as
     * kube-proxy logs a node port it cannot open and goes on. A proxy port gets another port.
     */
    private void leaveOut(BindFailure failure) {
        InetSocketAddress address = failure.address();
        boolean proxyPort = address.getAddress().equals(node.bindAddress()) && proxyPorts.handedOut(address.getPort());
        if (proxyPort) {
            LOG.warn("{}; the port gets another proxy port", failure.getMessage());
            proxyPorts.unusable(address.getPort());
        } else {
            LOG.warn("{}; served without that listener, tried again at the next periodic sync", failure.getMessage());
            unbindable.add(address);
        }
    }

    /**
     * Every TCP port with {@code --health-checks}' policy; as they are without it, since
     * kube-proxy trusts the EndpointSlices' readiness and so does l4lb unless asked.
     */
    private List<Service> checked(List<Service> services) {
        if (!endpointHealth.enabled()) {
            return services;
        }
        List<Service> checked = new ArrayList<>(services.size());
        for (Service service : services) {
            checked.add(new Service(service.namespace(), service.name(), service.ports().stream()
                    .map(port -> port.protocol() == Protocol.TCP ? port.withHealth(endpointHealth) : port).toList()));
        }
        return checked;
    }

    private List<Service> withoutUnbindable(List<Service> services) {
        if (unbindable.isEmpty()) {
            return services;
        }
        List<Service> kept = new ArrayList<>();
        for (Service service : services) {
            // A port other ports hand clients to stays, listeners or not.
            Set<String> targets = new HashSet<>();
            service.ports().forEach(port -> port.shortCircuit().ifPresent(to -> targets.add(to.port())));
            List<ServicePort> ports = new ArrayList<>();
            for (ServicePort port : service.ports()) {
                List<InetSocketAddress> listen = port.listen().stream().filter(a -> !unbindable.contains(a)).toList();
                if (!listen.isEmpty() || !port.intercepted().isEmpty() || targets.contains(port.name())) {
                    ports.add(new ServicePort(port.name(), port.protocol(), listen, port.targetPort(), port.policy(),
                            port.endpoints(), port.intercepted(), port.shortCircuit(), port.health()));
                }
            }
            if (!ports.isEmpty()) {
                kept.add(new Service(service.namespace(), service.name(), ports));
            }
        }
        return kept;
    }

    /** Each service or port left out is said once, not at every sync. */
    private void reportSkips(ProxierPlan next) {
        Set<String> now = new LinkedHashSet<>();
        for (String skip : next.skipped()) {
            String line = "not proxied: " + skip;
            now.add(line);
            if (reportedSkips.add(line)) {
                LOG.info(line);
            }
        }
        for (String part : next.ignored()) {
            String line = "ignored: " + part;
            now.add(line);
            if (reportedSkips.add(line)) {
                LOG.warn(line);
            }
        }
        reportedSkips.retainAll(now);
    }

    /** Stops syncing: the balancer, portals and health check servers stay as the last sync left them. */
    public void stopSyncing() {
        stopping = true;
        runner.shutdownNow();
        try {
            runner.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Closes the healthCheckNodePort servers (after {@link #stopSyncing()}): a node that is
     * shutting down refuses load balancers' probes while its connections drain, instead of
     * answering 200 for listeners that are already closed.
     */
    public void closeHealthChecks() {
        healthChecks.close();
    }

    /** Stops syncing and removes the portals and health check servers; the balancer is the caller's to stop. */
    @Override
    public void close() {
        stopSyncing();
        portals.close();
        healthChecks.close();
        source.close();
    }
}

package dev.l4lb.netty.kube;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.function.Function;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.l4lb.core.model.HealthPolicy;
import dev.l4lb.core.config.AdminConfig;
import dev.l4lb.core.config.BalancerConfig;
import dev.l4lb.core.kube.NodeContext;
import dev.l4lb.core.kube.ProxierHealth;
import dev.l4lb.core.kube.ProxyPorts;
import dev.l4lb.core.model.Cidr;
import dev.l4lb.netty.Balancer;
import dev.l4lb.netty.transport.BindFailure;
import dev.l4lb.netty.transport.Transport;
import dev.l4lb.netty.admin.AdminServer;
import dev.l4lb.netty.kube.portal.KernelPortals;
import dev.l4lb.netty.kube.portal.PortalProgram;
import dev.l4lb.netty.kube.portal.ReplyPath;
import dev.l4lb.netty.log.ConnectionLog;

/**
 * A running userspace proxier and everything it drives: the balancer, the admin server with
 * kube-proxy's /healthz, the health check node ports, the portals and the source of Services
 * and EndpointSlices. Started in that order, stopped in the reverse one.
 */
public final class ProxierRuntime implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(ProxierRuntime.class);

    /** How ClusterIP traffic reaches the balancer. */
    public enum Portals {
        /** No kernel rules: services are reached on their proxy listeners and node ports. */
        OFF,
        /** kube-proxy userspace's: one REDIRECT rule per ClusterIP port, to that port's proxy listener. */
        REDIRECT,
        /** A constant rule set: the service CIDRs go to one transparent listener (TCP); UDP ports keep REDIRECT rules. */
        TPROXY
    }

    /**
     * How the proxier runs on this node.
     *
     * @param node                the node as the proxier sees it
     * @param proxyPorts          null: ports the kernel picks
     * @param portals             which portals to program
     * @param serviceCidrs        the cluster's service CIDRs (TPROXY portals steer these whole)
     * @param transparentListener where the TPROXY portals deliver (TPROXY only)
     * @param nodeIp              the node's address, which REDIRECT portals DNAT the node's own traffic to
     *                            (so UDP replies match); null: REDIRECT it to the listener as well
     * @param healthCheckAddress  where healthCheckNodePort servers bind when --nodeport-addresses is unset (else
     *                            on the node's addresses in it)
     * @param minSyncPeriod       at most one sync per this period
     * @param syncPeriod          at least one sync per this period
     * @param healthTimeout       /healthz turns 503 when a change waits longer than this
     * @param followAddresses     read this host's addresses again at each periodic sync (an address
     *                            added later, a keepalived VIP, is then served as an externalIP)
     */
    public record Settings(NodeContext node, ProxyPorts proxyPorts, Portals portals, List<Cidr> serviceCidrs,
                           InetSocketAddress transparentListener, InetAddress nodeIp, InetAddress healthCheckAddress,
                           Duration minSyncPeriod, Duration syncPeriod, Duration healthTimeout, boolean followAddresses,
                           HealthPolicy endpointHealth) {
        public Settings {
            serviceCidrs = List.copyOf(serviceCidrs);
        }
    }

    private final Balancer balancer;
    private final AdminServer admin;
    private final KubeProxier proxier;
    private final java.util.concurrent.atomic.AtomicBoolean stopped = new java.util.concurrent.atomic.AtomicBoolean();

    private ProxierRuntime(Balancer balancer, AdminServer admin, KubeProxier proxier) {
        this.balancer = balancer;
        this.admin = admin;
        this.proxier = proxier;
    }

    /**
     * Starts everything and runs the first sync before returning.
     *
     * @param sources makes the source of objects, given what to call when they change
     * @throws BindFailure when an admin address cannot be bound; nothing is left running then
     */
    public static ProxierRuntime start(Settings settings, AdminConfig adminConfig, Transport transport, int threads,
                                       ConnectionLog connectionLog, Function<Runnable, ClusterSource> sources)
            throws BindFailure {
        Balancer balancer = Balancer.start(new BalancerConfig(List.of(), adminConfig), transport, threads, connectionLog);
        ProxierHealth health = new ProxierHealth(settings.healthTimeout());
        health.queued(Instant.now()); // nothing is served until the first sync: /healthz says so
        AdminServer admin = null;
        ServiceHealthServers healthChecks = null;
        PortalProgram portals = PortalProgram.OFF;
        KubeProxier started = null;
        try {
            admin = AdminServer.start(adminConfig, balancer, null, health);
            healthChecks = new ServiceHealthServers(healthCheckAddresses(settings), () -> health.healthy(Instant.now()));
            // The portals before the proxier: whether TCP ClusterIPs arrive through the transparent
            // listener decides which node the proxier serves, so it is settled before it is built.
            portals = portals(settings, balancer);
            NodeContext node = settings.node();
            if (node.transparentTcp() && !portals.transparentOn()) {
                // No TPROXY rules, no transparent delivery: TCP ports get proxy listeners (and
                // REDIRECT portals where iptables works; where it does not, that was said already).
                if (portals.active()) {
                    LOG.warn("without TPROXY portals, TCP ClusterIP ports get proxy listeners and REDIRECT portals of their own");
                }
                node = node.withTransparentTcp(false);
            }
            clientSources(balancer, portals.replyPath());
            ProxyPorts proxyPorts = settings.proxyPorts() != null ? settings.proxyPorts()
                    : new EphemeralProxyPorts(settings.node().bindAddress());
            started = new KubeProxier(balancer, sources, node, proxyPorts, portals, healthChecks,
                    health, settings.minSyncPeriod(), settings.syncPeriod(),
                    settings.followAddresses() ? LocalAddresses::ofThisHost : null, settings.endpointHealth());
            try {
                started.syncNow();
            } catch (RuntimeException e) {
                started.stopSyncing();
                throw e;
            }
            if (health.lastUpdated().isEmpty()) {
                LOG.warn("userspace proxier for node {} started, but its first sync {} (said above); "
                        + "/healthz answers 503 until a sync is applied", settings.node().nodeName(),
                        started.plan() == null ? "was not applied" : "could not write the portals");
            } else {
                LOG.info("userspace proxier for node {} in sync: {} service(s) proxied, {} portal(s), {} health check port(s)",
                        settings.node().nodeName(), started.plan().services().size(),
                        portals.active() ? started.plan().portals().size() : 0, started.plan().healthChecks().size());
            }
            return new ProxierRuntime(balancer, admin, started);
        } catch (BindFailure | RuntimeException e) {
            if (started != null) {
                started.close(); // with its source, the portals and the health check servers
            } else {
                portals.close();
                if (healthChecks != null) {
                    healthChecks.close();
                }
            }
            if (admin != null) {
                admin.close();
            }
            balancer.close();
            throw e;
        }
    }

    /**
     * Tells the data plane where endpoints' replies to clients' addresses come back, and says once
     * what pods see where they do not: Services that keep the client's address (externalTrafficPolicy
     * Local, pods calling ClusterIPs; the {@code l4lb.dev/source-ip} annotation) are connected from
     * the node's then, as kube-proxy's userspace mode did.
     */
    private static void clientSources(Balancer balancer, ReplyPath.Status replies) {
        balancer.clientSources().replyPath(replies.ipv4(), replies.ipv6(), replies.endpoints());
        Optional<String> v4 = balancer.clientSources().offReason(false);
        Optional<String> v6 = balancer.clientSources().offReason(true);
        if (v4.isEmpty() && v6.isEmpty()) {
            LOG.info("pods see their clients' addresses where Services keep them (connections from clients' addresses)");
        } else if (v4.equals(v6)) {
            LOG.warn("pods see this node's address, not their clients': connections cannot come from clients' addresses: {}",
                    v4.get());
        } else {
            v4.ifPresent(why -> LOG.warn("IPv4 pods see this node's address, not their clients': {}", why));
            v6.ifPresent(why -> LOG.warn("IPv6 pods see this node's address, not their clients': {}", why));
        }
    }

    /**
     * Where health check ports listen: as kube-proxy's service health servers, on every address,
     * or with --nodeport-addresses on this node's addresses in them (read once, at start).
     */
    private static List<InetAddress> healthCheckAddresses(Settings settings) {
        NodeContext node = settings.node();
        if (node.nodePortAddresses().isEmpty()) {
            return List.of(settings.healthCheckAddress());
        }
        List<InetAddress> addresses = node.nodePortLocalAddresses();
        if (addresses.isEmpty()) {
            LOG.warn("no local address is in --nodeport-addresses {}: health check ports listen nowhere, as node ports do",
                    node.nodePortAddresses());
        }
        return addresses;
    }

    private static PortalProgram portals(Settings settings, Balancer balancer) {
        return switch (settings.portals()) {
            case OFF -> PortalProgram.OFF;
            case REDIRECT -> KernelPortals.redirect(settings.node().bindAddress(), settings.nodeIp(), settings.node().clusterCidrs());
            case TPROXY -> KernelPortals.transparent(settings.node().bindAddress(), settings.nodeIp(), settings.serviceCidrs(),
                    settings.node().clusterCidrs(),
                    new KernelPortals.TransparentListener() {
                        @Override
                        public InetSocketAddress open() throws BindFailure {
                            return balancer.openTransparentListener(settings.transparentListener());
                        }

                        @Override
                        public void close() {
                            balancer.closeTransparentListener();
                        }
                    });
        };
    }

    public Balancer balancer() {
        return balancer;
    }

    public AdminServer admin() {
        return admin;
    }

    public KubeProxier proxier() {
        return proxier;
    }

    /**
     * Stops syncing and closes /healthz and the health check ports (load balancers stop sending
     * new connections), drains the balancer for up to {@code grace}, then removes the portals:
     * connections that TPROXY portals deliver need their rules until they end.
     */
    public void shutdown(Duration grace) {
        if (!stopped.compareAndSet(false, true)) {
            return; // a signal and a caller's close may both ask
        }
        proxier.stopSyncing();
        admin.close();
        proxier.closeHealthChecks();
        balancer.shutdown(grace);
        proxier.close();
    }

    @Override
    public void close() {
        shutdown(Duration.ZERO);
    }
}

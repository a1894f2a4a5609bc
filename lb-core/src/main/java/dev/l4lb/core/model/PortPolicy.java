package dev.l4lb.core.model;

import java.time.Duration;
import java.util.List;
import java.util.Objects;


/**
 * How a service port treats its connections.
 *
 * @param scheduler                     the scheduler, named in configs as ipvsadm names it ({@code rr}, ...)
 * @param sessionAffinity               Kubernetes sessionAffinity
 * @param sessionAffinityTimeoutSeconds ClientIP stickiness, 1..86400 (Kubernetes' bounds)
 * @param sessionAffinityMaxEntries     bound of the ClientIP table (Caffeine evicts past it, by W-TinyLFU)
 * @param proxyProtocol                 header written first to each backend connection
 * @param proxyProtocolUniqueId         v2 only: add PP2_TYPE_UNIQUE_ID with the balancer's connection id
 * @param acceptProxyProtocol           whether clients' connections start with a PROXY header, from whom
 * @param sourceRanges                  clients allowed (loadBalancerSourceRanges); empty allows all
 * @param connectTimeout                per attempt to reach an endpoint
 * @param idleTimeout                   close a connection quiet this long; {@link Duration#ZERO} is off
 * @param maxConnections                concurrent connections on this port; 0 is unlimited
 * @param limits                        per-client limits and the port's connection rate
 * @param hashKey                       what {@code sh} and {@code mh} hash; only they may take another than clientIp
 * @param upstreamSource                whose address connections to endpoints come from
 */
public record PortPolicy(SchedulerType scheduler, SessionAffinity sessionAffinity, int sessionAffinityTimeoutSeconds,
                         int sessionAffinityMaxEntries, ProxyProtocol proxyProtocol, boolean proxyProtocolUniqueId,
                         AcceptProxyProtocol acceptProxyProtocol, List<Cidr> sourceRanges, Duration connectTimeout,
                         Duration idleTimeout, int maxConnections, ClientLimits limits, HashKey hashKey,
                         UpstreamSource upstreamSource) {

    public static final SchedulerType DEFAULT_SCHEDULER = SchedulerType.RR;
    /** Kubernetes' default ClientIP timeout: 3 hours. */
    public static final int DEFAULT_AFFINITY_TIMEOUT_SECONDS = 10800;
    public static final int MAX_AFFINITY_TIMEOUT_SECONDS = 86400;
    public static final int DEFAULT_AFFINITY_MAX_ENTRIES = 1_000_000;
    /** 2^26 entries: a few GiB of heap already; more is a typo, not a plan. */
    public static final int MAX_AFFINITY_MAX_ENTRIES = 1 << 26;
    public static final Duration DEFAULT_CONNECT_TIMEOUT = Duration.ofSeconds(1);
    /**
     * How long a UDP session lives without a datagram either way. Longer than any answer a client
     * still waits for (a DNS resolver gives up on a try after 5 s by default), and short enough
     * that DNS traffic, which takes a new client port per query, holds few sessions: at 1,000
     * queries/s about 10,000, each one socket. kube-proxy's userspace mode used 250 ms (answers
     * slower than that were lost); conntrack keeps an unanswered UDP flow 30 s.
     */
    public static final Duration DEFAULT_UDP_IDLE_TIMEOUT = Duration.ofSeconds(10);
    /** UDP sessions a port holds at most by default (each is one socket to an endpoint). */
    public static final int DEFAULT_UDP_MAX_SESSIONS = 65_536;

    /** A policy whose endpoints see the balancer's address ({@link UpstreamSource#BALANCER}). */
    public PortPolicy(SchedulerType scheduler, SessionAffinity sessionAffinity, int sessionAffinityTimeoutSeconds,
                      int sessionAffinityMaxEntries, ProxyProtocol proxyProtocol, boolean proxyProtocolUniqueId,
                      AcceptProxyProtocol acceptProxyProtocol, List<Cidr> sourceRanges, Duration connectTimeout,
                      Duration idleTimeout, int maxConnections, ClientLimits limits, HashKey hashKey) {
        this(scheduler, sessionAffinity, sessionAffinityTimeoutSeconds, sessionAffinityMaxEntries, proxyProtocol,
                proxyProtocolUniqueId, acceptProxyProtocol, sourceRanges, connectTimeout, idleTimeout, maxConnections,
                limits, hashKey, UpstreamSource.BALANCER);
    }

    /** A policy that hashes on the client address alone ({@link HashKey#CLIENT_IP}). */
    public PortPolicy(SchedulerType scheduler, SessionAffinity sessionAffinity, int sessionAffinityTimeoutSeconds,
                      int sessionAffinityMaxEntries, ProxyProtocol proxyProtocol, boolean proxyProtocolUniqueId,
                      AcceptProxyProtocol acceptProxyProtocol, List<Cidr> sourceRanges, Duration connectTimeout,
                      Duration idleTimeout, int maxConnections, ClientLimits limits) {
        this(scheduler, sessionAffinity, sessionAffinityTimeoutSeconds, sessionAffinityMaxEntries, proxyProtocol,
                proxyProtocolUniqueId, acceptProxyProtocol, sourceRanges, connectTimeout, idleTimeout, maxConnections,
                limits, HashKey.CLIENT_IP);
    }

    /** A policy without per-client limits ({@link ClientLimits#NONE}). */
    public PortPolicy(SchedulerType scheduler, SessionAffinity sessionAffinity, int sessionAffinityTimeoutSeconds,
                      int sessionAffinityMaxEntries, ProxyProtocol proxyProtocol, boolean proxyProtocolUniqueId,
                      AcceptProxyProtocol acceptProxyProtocol, List<Cidr> sourceRanges, Duration connectTimeout,
                      Duration idleTimeout, int maxConnections) {
        this(scheduler, sessionAffinity, sessionAffinityTimeoutSeconds, sessionAffinityMaxEntries, proxyProtocol,
                proxyProtocolUniqueId, acceptProxyProtocol, sourceRanges, connectTimeout, idleTimeout, maxConnections,
                ClientLimits.NONE);
    }

    public PortPolicy {
        Objects.requireNonNull(scheduler, "scheduler");
        Objects.requireNonNull(sessionAffinity, "sessionAffinity");
        Objects.requireNonNull(proxyProtocol, "proxyProtocol");
        if (proxyProtocolUniqueId && proxyProtocol != ProxyProtocol.V2) {
            throw new IllegalArgumentException("proxyProtocolUniqueId needs proxyProtocol v2 (v1 has no TLVs)");
        }
        Objects.requireNonNull(acceptProxyProtocol, "acceptProxyProtocol");
        sourceRanges = List.copyOf(sourceRanges);
        Objects.requireNonNull(connectTimeout, "connectTimeout");
        Objects.requireNonNull(idleTimeout, "idleTimeout");
        if (sessionAffinityTimeoutSeconds < 1 || sessionAffinityTimeoutSeconds > MAX_AFFINITY_TIMEOUT_SECONDS) {
            throw new IllegalArgumentException("sessionAffinityTimeoutSeconds out of 1.." + MAX_AFFINITY_TIMEOUT_SECONDS);
        }
        if (sessionAffinityMaxEntries < 1 || sessionAffinityMaxEntries > MAX_AFFINITY_MAX_ENTRIES) {
            throw new IllegalArgumentException("sessionAffinityMaxEntries out of 1.." + MAX_AFFINITY_MAX_ENTRIES);
        }
        if (connectTimeout.isNegative() || connectTimeout.isZero()) {
            throw new IllegalArgumentException("connectTimeout must be positive");
        }
        if (idleTimeout.isNegative()) {
            throw new IllegalArgumentException("idleTimeout must not be negative");
        }
        if (maxConnections < 0) {
            throw new IllegalArgumentException("maxConnections must be >= 0");
        }
        Objects.requireNonNull(limits, "limits");
        Objects.requireNonNull(hashKey, "hashKey");
        if (hashKey != HashKey.CLIENT_IP && !scheduler.hashesClients()) {
            throw new IllegalArgumentException("hashKey " + hashKey.configName() + " needs scheduler sh or mh");
        }
        Objects.requireNonNull(upstreamSource, "upstreamSource");
    }

    /** This policy with endpoints connected from {@code source}. */
    public PortPolicy withUpstreamSource(UpstreamSource source) {
        return new PortPolicy(scheduler, sessionAffinity, sessionAffinityTimeoutSeconds, sessionAffinityMaxEntries, proxyProtocol,
                proxyProtocolUniqueId, acceptProxyProtocol, sourceRanges, connectTimeout, idleTimeout, maxConnections,
                limits, hashKey, source);
    }

    /** The defaults a port gets when the config says nothing. */
    public static PortPolicy defaults() {
        return new PortPolicy(DEFAULT_SCHEDULER, SessionAffinity.NONE, DEFAULT_AFFINITY_TIMEOUT_SECONDS, DEFAULT_AFFINITY_MAX_ENTRIES,
                ProxyProtocol.NONE, false, AcceptProxyProtocol.OFF, List.of(), DEFAULT_CONNECT_TIMEOUT, Duration.ZERO, 0);
    }

    /** True when this client (the real one, from a PROXY header when accepted) may connect: no ranges, or one of them contains it. */
    public boolean allowsSource(java.net.InetAddress client) {
        return sourceRanges.isEmpty() || Cidr.anyContains(sourceRanges, client);
    }
}

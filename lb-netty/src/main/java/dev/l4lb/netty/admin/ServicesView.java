package dev.l4lb.netty.admin;

import java.net.InetSocketAddress;
import java.time.Instant;
import java.util.Map;

import tools.jackson.databind.ObjectMapper;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.ObjectNode;

import dev.l4lb.core.affinity.ClientIpAffinity;
import dev.l4lb.core.health.EndpointHealth;
import dev.l4lb.core.health.PortHealth;
import dev.l4lb.core.limits.PortLimiter;
import dev.l4lb.core.model.Addresses;
import dev.l4lb.core.model.ClientLimits;
import dev.l4lb.core.model.Endpoint;
import dev.l4lb.core.model.HealthCheck;
import dev.l4lb.core.model.HealthPolicy;
import dev.l4lb.core.model.OutlierDetection;
import dev.l4lb.core.model.PortPolicy;
import dev.l4lb.core.model.Protocol;
import dev.l4lb.core.model.ProxyProtocol;
import dev.l4lb.core.model.ServicePort;
import dev.l4lb.core.model.SessionAffinity;
import dev.l4lb.core.model.UpstreamSource;
import dev.l4lb.core.sched.Backend;
import dev.l4lb.core.sched.ConnectError;
import dev.l4lb.core.sched.EndpointCounters;
import dev.l4lb.core.table.DatagramDrop;
import dev.l4lb.core.table.HeaderRejection;
import dev.l4lb.core.table.Outcome;
import dev.l4lb.core.table.PortCounters;
import dev.l4lb.core.table.Route;
import dev.l4lb.netty.Balancer;
import dev.l4lb.netty.Version;
import dev.l4lb.netty.metrics.BalancerMetrics;
import dev.l4lb.netty.tcp.ClientSourceConnects;

/**
 * The JSON of {@code GET /api/v1/services}: every service port of the snapshot in force with its
 * endpoints, weights, states and counters. The stats page and {@code lb list} read it; its
 * fields are described in the README.
 */
final class ServicesView {
    private static final ObjectMapper JSON = JsonMapper.builder().build();

    private ServicesView() {
    }

    static ObjectNode of(Balancer balancer, RateEstimator rates, int rateIntervalSeconds) {
        ObjectNode root = JSON.createObjectNode();
        root.put("version", Version.current());
        root.put("transport", balancer.transport().displayName());
        Instant updated = balancer.lastUpdated();
        root.put("lastUpdated", updated == null ? null : updated.toString());
        root.put("currentTime", Instant.now().toString());
        root.put("rateIntervalSeconds", rateIntervalSeconds);
        ArrayNode services = root.putArray("services");
        ClientSourceConnects sources = balancer.clientSources();
        Map<InetSocketAddress, String> bypassing = sources.bypassing();
        for (Route route : balancer.snapshot().routes()) {
            services.add(port(route, rates, balancer.metrics(), sources, bypassing));
        }
        return root;
    }

    /**
     * The port's per-client limits and its client table, or null when it has none. The limiter's
     * limits are the port's: a snapshot keeps a limiter across a reload only while they are equal.
     */
    private static void limits(ObjectNode node, PortLimiter limiter) {
        ClientLimits limits = limiter.limits();
        if (!limits.any()) {
            node.putNull("limits");
            return;
        }
        ObjectNode out = node.putObject("limits");
        out.put("maxConnectionsPerClient", limits.maxConnectionsPerClient());
        out.put("connectionRatePerClient", limits.connectionRatePerClient() == null ? null : limits.connectionRatePerClient().toString());
        out.put("connectionRate", limits.connectionRate() == null ? null : limits.connectionRate().toString());
        if (limits.perClient()) {
            out.put("clientTableSize", limits.clientTableSize());
            out.put("clientPrefixV6", limits.clientPrefixV6());
            out.put("clients", limiter.clients());
            out.put("evictions", limiter.evictions());
        }
    }

    /**
     * Whose address the port's endpoints see: {@code balancer}, or {@code client} for the clients
     * in {@code clients} (empty: all), with why that is off on this node per family (null: on).
     */
    private static void upstreamSource(ObjectNode node, UpstreamSource source, ClientSourceConnects sources) {
        ObjectNode out = node.putObject("upstreamSource");
        out.put("mode", source.configName());
        if (source.mode() == UpstreamSource.Mode.CLIENT) {
            ArrayNode clients = out.putArray("clients");
            source.clients().forEach(c -> clients.add(c.toString()));
            out.put("offIpv4", sources.offReason(false).orElse(null));
            out.put("offIpv6", sources.offReason(true).orElse(null));
        }
    }

    private static ObjectNode port(Route route, RateEstimator rates, BalancerMetrics metrics, ClientSourceConnects sources,
                                   Map<InetSocketAddress, String> bypassing) {
        ServicePort port = route.port();
        PortPolicy policy = port.policy();
        PortCounters counters = route.counters();
        ObjectNode node = JSON.createObjectNode();
        node.put("service", route.service().qualifiedName());
        node.put("port", port.name());
        node.put("protocol", port.protocol().name());
        ArrayNode listen = node.putArray("listen");
        port.listen().forEach(a -> listen.add(Addresses.format(a)));
        // The TLS server names that pick this port on a listener it shares; empty when not routed by name.
        ArrayNode serverNames = node.putArray("serverNames");
        port.serverNames().names().forEach(serverNames::add);
        node.put("scheduler", policy.scheduler().configName());
        boolean clientIp = policy.sessionAffinity() == SessionAffinity.CLIENT_IP;
        node.put("sessionAffinity", clientIp ? "ClientIP" : "None");
        if (clientIp) {
            node.put("affinityTimeoutSeconds", policy.sessionAffinityTimeoutSeconds());
        } else {
            node.putNull("affinityTimeoutSeconds");
        }
        node.put("affinityEntries", route.scheduler() instanceof ClientIpAffinity a ? a.table().size() : 0);
        node.put("proxyProtocol", policy.proxyProtocol().configName());
        node.put("forward", forward(policy.proxyProtocol()));
        limits(node, route.limiter());
        upstreamSource(node, policy.upstreamSource(), sources);
        node.put("active", counters.active());
        node.put("connections", counters.count(Outcome.OK));
        ObjectNode outcomes = node.putObject("outcomes");
        for (Outcome outcome : Outcome.values()) {
            outcomes.put(outcome.label(), counters.count(outcome));
        }
        if (policy.acceptProxyProtocol().enabled()) {
            ObjectNode rejected = node.putObject("proxyHeadersRejected");
            for (HeaderRejection reason : HeaderRejection.values()) {
                rejected.put(reason.label(), counters.headersRejected(reason));
            }
        }
        node.put("bytesIn", counters.bytesIn());
        node.put("bytesOut", counters.bytesOut());
        if (port.protocol() == Protocol.UDP) {
            // For UDP "active" counts sessions and "connections" sessions opened.
            node.put("datagramsIn", counters.datagramsIn());
            node.put("datagramsOut", counters.datagramsOut());
            ObjectNode drops = node.putObject("datagramsDropped");
            for (DatagramDrop reason : DatagramDrop.values()) {
                drops.put(reason.label(), counters.dropped(reason));
            }
            drops.put(BalancerMetrics.RECEIVE_BUFFER, metrics.receiveBufferDrops(port));
            node.put("idleTimeoutSeconds", policy.idleTimeout().toMillis() / 1000.0);
            node.put("maxSessions", policy.maxConnections());
        }
        rate(node, rates.of(counters));
        node.set("health", portHealth(port.health(), route.health()));
        ArrayNode endpoints = node.putArray("endpoints");
        for (Backend backend : route.backends()) {
            ObjectNode endpoint = endpoint(backend, rates);
            if (policy.upstreamSource().mode() == UpstreamSource.Mode.CLIENT) {
                // Connected from the node's address although the port asks for the client's: why.
                endpoint.put("repliesBypassNode", bypassing.get(backend.address()));
            }
            endpoints.add(endpoint);
        }
        return node;
    }

    private static ObjectNode endpoint(Backend backend, RateEstimator rates) {
        Endpoint endpoint = backend.endpoint();
        EndpointCounters counters = backend.counters();
        ObjectNode node = JSON.createObjectNode();
        node.put("address", Addresses.format(endpoint.address()));
        node.put("weight", endpoint.weight());
        node.put("state", state(endpoint));
        node.put("active", counters.open());
        node.put("inactive", counters.connecting());
        node.put("connections", counters.established());
        node.put("connectFailures", counters.connectFailures());
        node.put("bytesIn", counters.bytesIn());
        node.put("bytesOut", counters.bytesOut());
        rate(node, rates.of(counters));
        ConnectError error = counters.lastError();
        if (error == null) {
            node.putNull("lastError");
        } else {
            ObjectNode last = node.putObject("lastError");
            last.put("time", error.time().toString());
            last.put("message", error.message());
        }
        node.set("health", endpointHealth(counters.health()));
        return node;
    }

    /**
     * What may take the port's endpoints out and what it does when all are: the policy, then the
     * state now. {@code check} and {@code outlierDetection} are null when the port has none.
     */
    private static ObjectNode portHealth(HealthPolicy policy, PortHealth health) {
        ObjectNode node = JSON.createObjectNode();
        HealthCheck check = policy.check().orElse(null);
        if (check == null) {
            node.putNull("check");
        } else {
            ObjectNode out = node.putObject("check");
            out.put("type", check.kind().configName());
            out.put("intervalSeconds", check.interval().toMillis() / 1000.0);
            out.put("timeoutSeconds", check.timeout().toMillis() / 1000.0);
            out.put("rise", check.rise());
            out.put("fall", check.fall());
            if (check.port() == 0) {
                out.putNull("port");
            } else {
                out.put("port", check.port());
            }
            if (check.kind() == HealthCheck.Kind.HTTP) {
                out.put("path", check.path());
                out.put("expectStatus", check.expectStatus().toString());
            }
        }
        OutlierDetection detection = policy.outlierDetection().orElse(null);
        if (detection == null) {
            node.putNull("outlierDetection");
        } else {
            ObjectNode out = node.putObject("outlierDetection");
            out.put("consecutiveConnectFailures", detection.consecutiveConnectFailures());
            out.put("baseEjectionSeconds", detection.baseEjectionTime().toMillis() / 1000.0);
            out.put("maxEjectionSeconds", detection.maxEjectionTime().toMillis() / 1000.0);
            out.put("maxEjectionPercent", detection.maxEjectionPercent());
        }
        node.put("failOpen", policy.failOpen());
        node.put("failingOpen", health.failingOpen());
        node.put("allOut", health.allOut());
        node.put("failOpenEntered", health.failOpenEntered());
        return node;
    }

    /**
     * The endpoint's health by its checks and its traffic, beside {@code state}, which is what the
     * config or Kubernetes say of it: {@code up}, {@code down} (its check failed) or {@code ejected}.
     */
    private static ObjectNode endpointHealth(EndpointHealth health) {
        ObjectNode node = JSON.createObjectNode();
        node.put("state", health.state().label());
        // Down or ejected endpoints still take connections while their port fails open.
        node.put("inService", health.inService());
        node.put("since", health.since().toString());
        Instant until = health.ejectedUntil();
        node.put("ejectedUntil", until == null ? null : until.toString());
        node.put("checksPassed", health.checksPassed());
        node.put("checksFailed", health.checksFailed());
        node.put("ejections", health.ejections());
        String reason = health.lastFailure();
        Instant at = health.lastFailureAt();
        if (reason == null || at == null) {
            node.putNull("lastFailure");
        } else {
            ObjectNode last = node.putObject("lastFailure");
            last.put("time", at.toString());
            last.put("message", reason);
        }
        return node;
    }

    /** HAProxy's words for what the endpoint can take now. */
    private static String state(Endpoint endpoint) {
        if (endpoint.terminating()) {
            return "terminating";
        }
        if (!endpoint.ready()) {
            return "down";
        }
        return endpoint.weight() == 0 ? "drained" : "up";
    }

    /** ipvsadm's Forward column: how the connection reaches the endpoint. */
    private static String forward(ProxyProtocol proxyProtocol) {
        return switch (proxyProtocol) {
            case NONE -> "Proxy";
            case V1 -> "PPv1";
            case V2 -> "PPv2";
        };
    }

    private static void rate(ObjectNode node, RateEstimator.Rate rate) {
        ObjectNode out = node.putObject("rate");
        out.put("connections", rate.connections());
        out.put("bytesIn", rate.bytesIn());
        out.put("bytesOut", rate.bytesOut());
    }
}

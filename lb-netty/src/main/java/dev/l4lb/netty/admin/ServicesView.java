package dev.l4lb.netty.admin;

import java.time.Instant;

import tools.jackson.databind.ObjectMapper;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.ObjectNode;

import dev.l4lb.core.affinity.ClientIpAffinity;
import dev.l4lb.core.model.Addresses;
import dev.l4lb.core.model.Endpoint;
import dev.l4lb.core.model.PortPolicy;
import dev.l4lb.core.model.Protocol;
import dev.l4lb.core.model.ProxyProtocol;
import dev.l4lb.core.model.ServicePort;
import dev.l4lb.core.model.SessionAffinity;
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
        for (Route route : balancer.snapshot().routes()) {
            services.add(port(route, rates, balancer.metrics()));
        }
        return root;
    }

    private static ObjectNode port(Route route, RateEstimator rates, BalancerMetrics metrics) {
        ServicePort port = route.port();
        PortPolicy policy = port.policy();
        PortCounters counters = route.counters();
        ObjectNode node = JSON.createObjectNode();
        node.put("service", route.service().qualifiedName());
        node.put("port", port.name());
        node.put("protocol", port.protocol().name());
        ArrayNode listen = node.putArray("listen");
        port.listen().forEach(a -> listen.add(Addresses.format(a)));
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
        ArrayNode endpoints = node.putArray("endpoints");
        for (Backend backend : route.backends()) {
            endpoints.add(endpoint(backend, rates));
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

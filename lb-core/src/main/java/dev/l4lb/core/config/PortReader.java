package dev.l4lb.core.config;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

import org.jspecify.annotations.Nullable;
import tools.jackson.databind.JsonNode;

import dev.l4lb.core.model.AcceptProxyProtocol;
import dev.l4lb.core.model.Cidr;
import dev.l4lb.core.model.ClientLimits;
import dev.l4lb.core.model.Endpoint;
import dev.l4lb.core.model.HealthPolicy;
import dev.l4lb.core.model.PortPolicy;
import dev.l4lb.core.model.Protocol;
import dev.l4lb.core.model.ProxyProtocol;
import dev.l4lb.core.model.SchedulerType;
import dev.l4lb.core.model.ServerNames;
import dev.l4lb.core.model.ServicePort;
import dev.l4lb.core.model.HashKey;
import dev.l4lb.core.model.SessionAffinity;

/** Reads one entry of a service's {@code ports}: its listeners, its policy and its endpoints. */
final class PortReader {
    private static final Set<String> KEYS = keys("name", "protocol", "listen", "targetPort", "scheduler",
            "hashKey", "sessionAffinity", "sessionAffinityTimeoutSeconds", "sessionAffinityMaxEntries", "proxyProtocol", "proxyProtocolUniqueId",
            "acceptProxyProtocol", "trustedUpstreams", "acceptProxyProtocolTimeout", "sourceRanges", "connectTimeout",
            "idleTimeout", "maxConnections", "maxSessions", "endpoints", "serverNames", "clientHelloTimeout",
            LimitsReader.KEY);
    /** Keys that mean nothing for a UDP port: reported rather than ignored. */
    private static final List<String> TCP_ONLY = List.of("proxyProtocol", "proxyProtocolUniqueId", "acceptProxyProtocol",
            "trustedUpstreams", "acceptProxyProtocolTimeout", "connectTimeout", "maxConnections", "clientHelloTimeout");

    private final Problems problems;
    private final Listeners listeners;
    private final EndpointReader endpoints;
    private final HealthReader health;
    private final LimitsReader limits;

    PortReader(Problems problems, Listeners listeners, EndpointReader endpoints) {
        this.problems = problems;
        this.listeners = listeners;
        this.endpoints = endpoints;
        this.health = new HealthReader(problems);
        this.limits = new LimitsReader(problems);
    }

    /** The port's own keys and those of its health, which HealthReader reads. */
    private static Set<String> keys(String... own) {
        Set<String> keys = new HashSet<>(List.of(own));
        keys.addAll(HealthReader.PORT_KEYS);
        return Set.copyOf(keys);
    }

    /** The port at {@code path}, or null when anything in it is wrong (every problem reported). */
    @Nullable ServicePort read(JsonNode node, String path) {
        FieldReader fields = FieldReader.of(node, path, KEYS, problems);
        if (fields == null) {
            return null;
        }
        int before = problems.count();
        String name = fields.string("name", "");
        if (!name.isEmpty() && !ServiceReader.DNS_LABEL.matcher(name).matches()) {
            problems.add(fields.path("name"), "'" + name + "' is not a valid port name (lowercase letters, digits and '-')");
        }
        Protocol protocol = fields.oneOf("protocol", Protocol.TCP, Protocol.class, Protocol::name);
        int targetPort = fields.integer("targetPort", 0, 1, 65535);
        PortPolicy policy = policy(fields, protocol, before);
        HealthPolicy healthPolicy = health.read(fields, protocol);
        ServerNames serverNames = serverNames(fields, protocol);
        List<InetSocketAddress> listen = listeners.read(fields.node("listen"), path, protocol, serverNames.routed());
        List<Endpoint> endpointList = endpoints.read(fields.node("endpoints"), fields.path("endpoints"), targetPort);
        if (problems.count() > before) {
            return null;
        }
        return new ServicePort(name, protocol, listen, targetPort, policy, endpointList, List.of(), Optional.empty(),
                healthPolicy, serverNames);
    }

    /**
     * The port's server names, each checked and kept lowercase without a trailing dot, so that
     * list index {@code i} is still the file's {@code serverNames[i]}.
     */
    private ServerNames serverNames(FieldReader fields, Protocol protocol) {
        JsonNode node = fields.node("serverNames");
        boolean hasTimeout = fields.has("clientHelloTimeout");
        Duration timeout = fields.duration("clientHelloTimeout", ServerNames.DEFAULT_CLIENT_HELLO_TIMEOUT);
        if (timeout.isZero()) {
            problems.add(fields.path("clientHelloTimeout"), "must be more than 0");
        }
        if (node == null) {
            if (hasTimeout && protocol == Protocol.TCP) { // on a UDP port it is reported as TCP-only
                problems.add(fields.path("clientHelloTimeout"), "has no effect without serverNames");
            }
            return ServerNames.NONE;
        }
        if (protocol != Protocol.TCP) {
            problems.add(fields.path("serverNames"), "is for TCP ports: a UDP port has no TLS ClientHello to read a name from");
            return ServerNames.NONE;
        }
        if (!node.isArray() || node.isEmpty()) {
            problems.add(fields.path("serverNames"), "must be a non-empty list of server names (\"shop.example\", "
                    + "\"*.shop.example\" or \"*\")");
            return ServerNames.NONE;
        }
        List<String> names = new ArrayList<>();
        for (int i = 0; i < node.size(); i++) {
            JsonNode item = node.get(i);
            String name = item.isString() ? ServerNameSyntax.normalize(FieldReader.shown(item)) : null;
            if (name == null) {
                problems.add(fields.path("serverNames") + "[" + i + "]", "'" + FieldReader.shown(item) + "' is not a server "
                        + "name: a DNS name (shop.example), a wildcard of one label (*.shop.example), or * for any other");
                names.add("");
            } else {
                names.add(name);
            }
        }
        if (timeout.isZero()) {
            return ServerNames.NONE;
        }
        return new ServerNames(names, timeout);
    }

    /** The port's policy, or null when a problem was found in the port since {@code before}. */
    private @Nullable PortPolicy policy(FieldReader fields, Protocol protocol, int before) {
        PortPolicy d = PortPolicy.defaults();
        SchedulerType scheduler = fields.oneOf("scheduler", d.scheduler(),
                SchedulerType.class, SchedulerType::configName, SchedulerType::whyNotOffered);
        HashKey hashKey = fields.oneOf("hashKey", HashKey.CLIENT_IP, HashKey.class, HashKey::configName);
        if (hashKey != HashKey.CLIENT_IP && !scheduler.hashesClients()) {
            problems.add(fields.path("hashKey"), "is for the hashing schedulers (sh, mh); scheduler "
                    + scheduler.configName() + " does not hash the client");
        }
        SessionAffinity affinity = fields.oneOf("sessionAffinity", SessionAffinity.NONE, SessionAffinity.class,
                SessionAffinity::configName);
        int affinityTimeout = fields.integer("sessionAffinityTimeoutSeconds",
                PortPolicy.DEFAULT_AFFINITY_TIMEOUT_SECONDS, 1, PortPolicy.MAX_AFFINITY_TIMEOUT_SECONDS);
        int affinityMaxEntries = fields.integer("sessionAffinityMaxEntries",
                PortPolicy.DEFAULT_AFFINITY_MAX_ENTRIES, 1, PortPolicy.MAX_AFFINITY_MAX_ENTRIES);
        ProxyProtocol proxyProtocol = fields.oneOf("proxyProtocol", ProxyProtocol.NONE, ProxyProtocol.class,
                ProxyProtocol::configName);
        boolean uniqueId = fields.bool("proxyProtocolUniqueId", false);
        if (uniqueId && proxyProtocol != ProxyProtocol.V2 && protocol == Protocol.TCP) {
            problems.add(fields.path("proxyProtocolUniqueId"), "needs proxyProtocol: v2 (a v1 header has no room for TLVs)");
        }
        // On a UDP port these keys are reported once, as TCP-only, below.
        AcceptProxyProtocol accept = protocol == Protocol.TCP ? acceptProxyProtocol(fields) : AcceptProxyProtocol.OFF;
        List<Cidr> sourceRanges = cidrs(fields, "sourceRanges");
        Duration connectTimeout = protocol == Protocol.TCP
                ? fields.duration("connectTimeout", d.connectTimeout()) : d.connectTimeout();
        if (connectTimeout.isZero()) {
            problems.add(fields.path("connectTimeout"), "must be more than 0");
        }
        Limits limits = protocol == Protocol.UDP ? udpLimits(fields) : tcpLimits(fields, d);
        ClientLimits clientLimits = this.limits.read(fields);
        if (problems.count() > before) {
            return null;
        }
        return new PortPolicy(scheduler, affinity, affinityTimeout, affinityMaxEntries, proxyProtocol, uniqueId,
                accept, sourceRanges, connectTimeout, limits.idleTimeout(), limits.maxConnections(), clientLimits, hashKey);
    }

    /** When a quiet connection or session closes, and how many the port holds at once. */
    private record Limits(Duration idleTimeout, int maxConnections) {
    }

    private Limits tcpLimits(FieldReader fields, PortPolicy d) {
        if (fields.has("maxSessions")) {
            problems.add(fields.path("maxSessions"), "is for UDP ports; a TCP port limits its connections with maxConnections");
        }
        return new Limits(fields.duration("idleTimeout", d.idleTimeout()), fields.integer("maxConnections", 0, 0, Integer.MAX_VALUE));
    }

    private Limits udpLimits(FieldReader fields) {
        for (String key : TCP_ONLY) {
            if (fields.has(key) && !(key.equals("proxyProtocol") && FieldReader.shown(fields.node(key)).equals("none"))) {
                problems.add(fields.path(key), switch (key) {
                    case "proxyProtocol", "proxyProtocolUniqueId", "acceptProxyProtocol", "trustedUpstreams",
                         "acceptProxyProtocolTimeout" -> "the PROXY protocol is TCP-only in l4lb; a UDP port cannot send or accept it";
                    case "clientHelloTimeout" -> "a UDP port has no TLS ClientHello to wait for";
                    case "connectTimeout" -> "a UDP port connects to its endpoints without a handshake: there is nothing to time out";
                    default -> "a UDP port limits its sessions with maxSessions";
                });
            }
        }
        // A UDP session ends only by its idle timeout, so it must have one; and its table is bounded.
        Duration idleTimeout = fields.duration("idleTimeout", PortPolicy.DEFAULT_UDP_IDLE_TIMEOUT);
        if (idleTimeout.isZero()) {
            problems.add(fields.path("idleTimeout"), "must be more than 0 for a UDP port: a session ends only when idle");
        }
        return new Limits(idleTimeout, fields.integer("maxSessions", PortPolicy.DEFAULT_UDP_MAX_SESSIONS, 1, Integer.MAX_VALUE));
    }

    /**
     * acceptProxyProtocol and trustedUpstreams come together: accepting headers from anyone would
     * let any client name its own address, and a trust list without acceptance is a forgotten switch.
     */
    private AcceptProxyProtocol acceptProxyProtocol(FieldReader fields) {
        boolean accept = fields.bool("acceptProxyProtocol", false);
        List<Cidr> trusted = cidrs(fields, "trustedUpstreams");
        Duration timeout = fields.duration("acceptProxyProtocolTimeout", AcceptProxyProtocol.DEFAULT_HEADER_TIMEOUT);
        JsonNode trustedNode = fields.node("trustedUpstreams");
        if (accept && trustedNode == null) {
            problems.add(fields.path(), "acceptProxyProtocol: true needs trustedUpstreams (the CIDRs of the balancers in front;"
                    + " headers from anyone else would let clients spoof their address)");
        } else if (accept && trustedNode.isArray() && trustedNode.isEmpty()) {
            problems.add(fields.path("trustedUpstreams"), "must name at least one CIDR when acceptProxyProtocol is true");
        }
        // A misspelt acceptProxyProtocol is reported once, at itself, not again at the keys it governs.
        boolean acceptSaidNo = !fields.has("acceptProxyProtocol") || fields.node("acceptProxyProtocol").isBoolean() && !accept;
        if (acceptSaidNo && trustedNode != null) {
            problems.add(fields.path("trustedUpstreams"), "has no effect without acceptProxyProtocol: true");
        }
        if (acceptSaidNo && fields.has("acceptProxyProtocolTimeout")) {
            problems.add(fields.path("acceptProxyProtocolTimeout"), "has no effect without acceptProxyProtocol: true");
        }
        if (timeout.isZero()) {
            problems.add(fields.path("acceptProxyProtocolTimeout"), "must be more than 0");
        }
        if (!accept || trusted.isEmpty() || timeout.isZero()) {
            return AcceptProxyProtocol.OFF;
        }
        return new AcceptProxyProtocol(trusted, timeout);
    }

    private static List<Cidr> cidrs(FieldReader fields, String key) {
        return fields.strings(key, "CIDRs", "a CIDR such as 10.0.0.0/8 or fd00::/8", Cidr::parse);
    }
}

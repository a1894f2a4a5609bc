package dev.l4lb.core.config;

import java.io.IOException;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;
import java.util.regex.Pattern;

import tools.jackson.core.JacksonException;
import tools.jackson.core.JsonParser;
import tools.jackson.core.TokenStreamLocation;
import tools.jackson.databind.DeserializationFeature;
import tools.jackson.databind.JsonNode;
import tools.jackson.dataformat.yaml.YAMLMapper;

import dev.l4lb.core.model.AcceptProxyProtocol;
import dev.l4lb.core.model.Addresses;
import dev.l4lb.core.model.Cidr;
import dev.l4lb.core.model.Endpoint;
import dev.l4lb.core.model.PortPolicy;
import dev.l4lb.core.model.Protocol;
import dev.l4lb.core.model.ProxyProtocol;
import dev.l4lb.core.model.Service;
import dev.l4lb.core.model.ServicePort;
import dev.l4lb.core.model.SessionAffinity;
import dev.l4lb.core.sched.SchedulerType;

/**
 * Reads a YAML config file into the model, or reports every problem in it at once, each with the
 * file, the path inside it and what is wrong. Unknown keys are errors: a misspelt key silently
 * ignored is a policy silently not applied.
 */
public final class ConfigLoader {
    private static final Set<String> ROOT_KEYS = Set.of("services", "admin");
    private static final Set<String> SERVICE_KEYS = Set.of("name", "ports");
    private static final Set<String> PORT_KEYS = Set.of("name", "protocol", "listen", "targetPort", "scheduler",
            "sessionAffinity", "sessionAffinityTimeoutSeconds", "sessionAffinityMaxEntries", "proxyProtocol", "proxyProtocolUniqueId",
            "acceptProxyProtocol", "trustedUpstreams", "acceptProxyProtocolTimeout", "sourceRanges", "connectTimeout",
            "idleTimeout", "maxConnections", "maxSessions", "endpoints");
    private static final Set<String> ENDPOINT_KEYS = Set.of("address", "port", "weight", "node", "ready", "serving",
            "terminating", "maxConnections");
    private static final Set<String> ADMIN_KEYS = Set.of("metrics", "healthz", "allowedHosts");
    /** A DNS name: labels of letters, digits and inner hyphens, joined by dots. */
    private static final Pattern HOST_NAME = Pattern.compile("[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*");
    /** Kubernetes' DNS-1123 label: names of namespaces, services and ports. */
    private static final Pattern DNS_LABEL = Pattern.compile("[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?");
    private static final int MAX_WEIGHT = 65535; // ipvsadm's upper bound

    /** A second document after the first is reported by the caller, with its own message. */
    private static final YAMLMapper YAML = YAMLMapper.builder(new Yaml11Factory())
            .disable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .build();
    /** Jackson 3's words for a duplicate key, and the words config errors have always used. */
    private static final Pattern DUPLICATE_KEY = Pattern.compile("Duplicate Object property \"(.*)\"");

    private final String file;
    private final List<ConfigProblem> problems = new ArrayList<>();
    /** Listener address to the path that claimed it, per protocol, to find duplicates and overlaps. */
    private final Map<Protocol, Map<InetSocketAddress, String>> listeners = new HashMap<>();

    private ConfigLoader(String file) {
        this.file = file;
    }

    /** Reads and validates a config file. */
    public static BalancerConfig load(Path path) throws ConfigException {
        String name = path.toString();
        String text;
        try {
            text = Utf8File.read(path);
        } catch (NoSuchFileException e) {
            throw new ConfigException(List.of(new ConfigProblem(name, "", "no such file")));
        } catch (IOException e) {
            throw new ConfigException(List.of(new ConfigProblem(name, "", "cannot read: " + e.getMessage())));
        }
        return parse(name, text);
    }

    /** Validates config text; {@code fileName} names it in problems. */
    public static BalancerConfig parse(String fileName, String yaml) throws ConfigException {
        return new ConfigLoader(fileName).read(yaml);
    }

    private BalancerConfig read(String yaml) throws ConfigException {
        JsonNode root;
        try (JsonParser parser = YAML.createParser(yaml)) {
            root = YAML.readTree(parser);
            if (parser.nextToken() != null) {
                throw new ConfigException(List.of(new ConfigProblem(file, "line " + parser.currentLocation().getLineNr(),
                        "a second YAML document ('---'): put every service in the one document")));
            }
        } catch (JacksonException e) {
            TokenStreamLocation at = e.getLocation();
            String where = at == null ? "" : "line " + at.getLineNr() + ", column " + at.getColumnNr();
            throw new ConfigException(List.of(new ConfigProblem(file, where, "not valid YAML: "
                    + ConfigProblem.yamlMessage(jackson2Words(e.getOriginalMessage())))));
        }
        if (root == null || root.isMissingNode() || root.isNull()) {
            throw new ConfigException(List.of(new ConfigProblem(file, "", "the file is empty: it needs a 'services' list")));
        }
        Map<String, JsonNode> fields = mapping(root, "", ROOT_KEYS);
        List<Service> services = new ArrayList<>();
        AdminConfig admin = AdminConfig.defaults();
        if (fields != null) {
            JsonNode list = fields.get("services");
            if (list == null) {
                problem("", "missing key 'services'");
            } else {
                services = services(list);
            }
            if (fields.containsKey("admin")) {
                admin = admin(fields.get("admin"));
            }
        }
        if (problems.isEmpty()) {
            checkNoLoops(services); // indexes of the model match the file's only when nothing was dropped
        }
        if (!problems.isEmpty()) {
            throw new ConfigException(problems);
        }
        return new BalancerConfig(services, admin);
    }

    private List<Service> services(JsonNode list) {
        List<Service> services = new ArrayList<>();
        if (!list.isArray()) {
            problem("services", "must be a list");
            return services;
        }
        Map<String, String> seen = new HashMap<>();
        for (int i = 0; i < list.size(); i++) {
            String path = "services[" + i + "]";
            Service service = service(list.get(i), path);
            if (service != null) {
                String other = seen.putIfAbsent(service.qualifiedName(), path);
                if (other != null) {
                    problem(path + ".name", "duplicate service " + service.qualifiedName() + " (also " + other + ")");
                } else {
                    services.add(service);
                }
            }
        }
        return services;
    }

    private Service service(JsonNode node, String path) {
        Map<String, JsonNode> fields = mapping(node, path, SERVICE_KEYS);
        if (fields == null) {
            return null;
        }
        int before = problems.size();
        String namespace = "default";
        String name = null;
        String qualified = requiredText(fields, path, "name");
        if (qualified != null) {
            int slash = qualified.indexOf('/');
            namespace = slash < 0 ? "default" : qualified.substring(0, slash);
            name = slash < 0 ? qualified : qualified.substring(slash + 1);
            if (!DNS_LABEL.matcher(namespace).matches() || !DNS_LABEL.matcher(name).matches()) {
                problem(path + ".name", "'" + qualified + "' is not namespace/name (lowercase letters, digits and '-', "
                        + "at most 63 each, as Kubernetes requires)");
            }
        }
        List<ServicePort> ports = new ArrayList<>();
        JsonNode list = fields.get("ports");
        if (list == null) {
            problem(path, "missing key 'ports'");
        } else if (!list.isArray() || list.isEmpty()) {
            problem(path + ".ports", "must be a non-empty list");
        } else {
            Set<String> names = new HashSet<>();
            for (int i = 0; i < list.size(); i++) {
                String portPath = path + ".ports[" + i + "]";
                ServicePort port = port(list.get(i), portPath);
                if (port == null) {
                    continue;
                }
                if (port.name().isEmpty() && list.size() > 1) {
                    problem(portPath, "a service with several ports needs a name on each port");
                } else if (!names.add(port.name())) {
                    problem(portPath + ".name", "duplicate port name '" + port.name() + "'");
                }
                ports.add(port);
            }
        }
        if (problems.size() > before) {
            return null;
        }
        return new Service(namespace, name, ports);
    }

    private ServicePort port(JsonNode node, String path) {
        Map<String, JsonNode> fields = mapping(node, path, PORT_KEYS);
        if (fields == null) {
            return null;
        }
        int before = problems.size();
        PortPolicy d = PortPolicy.defaults();

        String name = optionalText(fields, path, "name", "");
        if (!name.isEmpty() && !DNS_LABEL.matcher(name).matches()) {
            problem(path + ".name", "'" + name + "' is not a valid port name (lowercase letters, digits and '-')");
        }
        Protocol protocol = Protocol.TCP;
        String protocolText = optionalText(fields, path, "protocol", "TCP");
        switch (protocolText) {
            case "TCP" -> protocol = Protocol.TCP;
            case "UDP" -> protocol = Protocol.UDP;
            default -> problem(path + ".protocol", "unknown protocol '" + protocolText + "' (known: TCP, UDP)");
        }
        int targetPort = optionalInt(fields, path, "targetPort", 0, 1, 65535);

        String scheduler = optionalText(fields, path, "scheduler", d.scheduler());
        if (SchedulerType.byName(scheduler).isEmpty()) {
            String known = " (known: " + String.join(", ", SchedulerType.names()) + ")";
            problem(path + ".scheduler", SchedulerType.whyNotOffered(scheduler)
                    .map(why -> why + known)
                    .orElse("unknown scheduler '" + scheduler + "'" + known));
        }
        SessionAffinity affinity = SessionAffinity.NONE;
        String affinityText = optionalText(fields, path, "sessionAffinity", "None");
        switch (affinityText) {
            case "None" -> affinity = SessionAffinity.NONE;
            case "ClientIP" -> affinity = SessionAffinity.CLIENT_IP;
            default -> problem(path + ".sessionAffinity", "unknown sessionAffinity '" + affinityText
                    + "' (known: None, ClientIP)");
        }
        int affinityTimeout = optionalInt(fields, path, "sessionAffinityTimeoutSeconds",
                PortPolicy.DEFAULT_AFFINITY_TIMEOUT_SECONDS, 1, PortPolicy.MAX_AFFINITY_TIMEOUT_SECONDS);
        int affinityMaxEntries = optionalInt(fields, path, "sessionAffinityMaxEntries",
                PortPolicy.DEFAULT_AFFINITY_MAX_ENTRIES, 1, PortPolicy.MAX_AFFINITY_MAX_ENTRIES);
        ProxyProtocol proxyProtocol = ProxyProtocol.NONE;
        String proxyText = optionalText(fields, path, "proxyProtocol", "none");
        switch (proxyText) {
            case "none" -> proxyProtocol = ProxyProtocol.NONE;
            case "v1" -> proxyProtocol = ProxyProtocol.V1;
            case "v2" -> proxyProtocol = ProxyProtocol.V2;
            default -> problem(path + ".proxyProtocol", "unknown proxyProtocol '" + proxyText + "' (known: none, v1, v2)");
        }
        boolean uniqueId = optionalBoolean(fields, path, "proxyProtocolUniqueId", false);
        if (uniqueId && proxyProtocol != ProxyProtocol.V2 && protocol == Protocol.TCP) {
            problem(path + ".proxyProtocolUniqueId", "needs proxyProtocol: v2 (a v1 header has no room for TLVs)");
        }
        // On a UDP port these keys are reported once, as TCP-only, below.
        AcceptProxyProtocol accept = protocol == Protocol.TCP ? acceptProxyProtocol(fields, path) : AcceptProxyProtocol.OFF;
        List<Cidr> sourceRanges = cidrs(fields.get("sourceRanges"), path + ".sourceRanges");
        Duration connectTimeout = protocol == Protocol.TCP
                ? optionalDuration(fields, path, "connectTimeout", d.connectTimeout()) : d.connectTimeout();
        if (connectTimeout.isZero()) {
            problem(path + ".connectTimeout", "must be more than 0");
        }
        Duration idleTimeout;
        int maxConnections;
        if (protocol == Protocol.UDP) {
            tcpOnly(fields, path, "proxyProtocol", "proxyProtocolUniqueId", "acceptProxyProtocol", "trustedUpstreams",
                    "acceptProxyProtocolTimeout", "connectTimeout", "maxConnections");
            // A UDP session ends only by its idle timeout, so it must have one; and its table is bounded.
            idleTimeout = optionalDuration(fields, path, "idleTimeout", PortPolicy.DEFAULT_UDP_IDLE_TIMEOUT);
            if (idleTimeout.isZero()) {
                problem(path + ".idleTimeout", "must be more than 0 for a UDP port: a session ends only when idle");
            }
            maxConnections = optionalInt(fields, path, "maxSessions", PortPolicy.DEFAULT_UDP_MAX_SESSIONS, 1, Integer.MAX_VALUE);
        } else {
            if (fields.containsKey("maxSessions")) {
                problem(path + ".maxSessions", "is for UDP ports; a TCP port limits its connections with maxConnections");
            }
            idleTimeout = optionalDuration(fields, path, "idleTimeout", d.idleTimeout());
            maxConnections = optionalInt(fields, path, "maxConnections", 0, 0, Integer.MAX_VALUE);
        }

        List<InetSocketAddress> listen = listen(fields.get("listen"), path, protocol);
        List<Endpoint> endpoints = endpoints(fields.get("endpoints"), path + ".endpoints", targetPort);

        if (problems.size() > before) {
            return null;
        }
        PortPolicy policy = new PortPolicy(scheduler, affinity, affinityTimeout, affinityMaxEntries, proxyProtocol, uniqueId,
                accept, sourceRanges, connectTimeout, idleTimeout, maxConnections);
        return new ServicePort(name, protocol, listen, targetPort, policy, endpoints);
    }

    /** Keys that mean nothing for a UDP port are reported rather than ignored. */
    private void tcpOnly(Map<String, JsonNode> fields, String path, String... keys) {
        for (String key : keys) {
            if (!fields.containsKey(key)) {
                continue;
            }
            if (key.equals("proxyProtocol") && shown(fields.get(key)).equals("none")) {
                continue;
            }
            String why = switch (key) {
                case "proxyProtocol", "proxyProtocolUniqueId", "acceptProxyProtocol", "trustedUpstreams",
                     "acceptProxyProtocolTimeout" -> "the PROXY protocol is TCP-only in l4lb; a UDP port cannot send or accept it";
                case "connectTimeout" -> "a UDP port connects to its endpoints without a handshake: there is nothing to time out";
                default -> "a UDP port limits its sessions with maxSessions";
            };
            problem(path + "." + key, why);
        }
    }

    private List<InetSocketAddress> listen(JsonNode node, String portPath, Protocol protocol) {
        String path = portPath + ".listen";
        List<InetSocketAddress> result = new ArrayList<>();
        if (node == null) {
            problem(portPath, "missing key 'listen' (one or more \"address:port\")");
            return result;
        }
        if (!node.isArray() || node.isEmpty()) {
            problem(path, "must be a non-empty list of \"address:port\"");
            return result;
        }
        Map<InetSocketAddress, String> claimed = listeners.computeIfAbsent(protocol, p -> new LinkedHashMap<>());
        for (int i = 0; i < node.size(); i++) {
            String itemPath = path + "[" + i + "]";
            JsonNode item = node.get(i);
            if (!item.isString()) {
                problem(itemPath, "must be a string \"address:port\" (quote it)");
                continue;
            }
            InetSocketAddress address = hostPort(shown(item), itemPath, false, 0);
            if (address == null) {
                continue;
            }
            if (protocol == Protocol.UDP && address.getAddress().isAnyLocalAddress()) {
                // Replies leave from the address the kernel picks for the client's route, and a
                // client that sent to another one (a connected resolver socket) never sees them.
                problem(itemPath, "a UDP port cannot listen on a wildcard address: its replies would come from "
                        + "whichever local address the kernel picks, not the one the client sent to; list the addresses");
                continue;
            }
            String clash = listenerClash(claimed, address);
            if (clash != null) {
                problem(itemPath, clash);
                continue;
            }
            claimed.put(address, itemPath);
            result.add(address);
        }
        return result;
    }

    /** A message when {@code address} collides with a listener already claimed, else null. */
    private static String listenerClash(Map<InetSocketAddress, String> claimed, InetSocketAddress address) {
        String same = claimed.get(address);
        if (same != null) {
            return "duplicate listener " + Addresses.format(address) + " (also " + same + ")";
        }
        for (Map.Entry<InetSocketAddress, String> e : claimed.entrySet()) {
            InetSocketAddress other = e.getKey();
            if (other.getPort() == address.getPort() && overlaps(other.getAddress(), address.getAddress())) {
                return "listener " + Addresses.format(address) + " overlaps " + Addresses.format(other)
                        + " (" + e.getValue() + "): a wildcard address takes the port on every address";
            }
        }
        return null;
    }

    private static boolean overlaps(InetAddress a, InetAddress b) {
        boolean aWild = a.isAnyLocalAddress();
        boolean bWild = b.isAnyLocalAddress();
        if (!aWild && !bWild) {
            return false;
        }
        boolean aV4 = a instanceof Inet4Address;
        boolean bV4 = b instanceof Inet4Address;
        // [::] is dual-stack on Linux by default, so it covers IPv4 too; 0.0.0.0 covers only IPv4.
        if (aWild && !aV4 || bWild && !bV4) {
            return true;
        }
        return aV4 == bV4;
    }

    private List<Endpoint> endpoints(JsonNode node, String path, int targetPort) {
        List<Endpoint> result = new ArrayList<>();
        if (node == null) {
            return result; // a service with no endpoints is valid: its connections are refused
        }
        if (!node.isArray()) {
            problem(path, "must be a list");
            return result;
        }
        Set<InetSocketAddress> seen = new HashSet<>();
        for (int i = 0; i < node.size(); i++) {
            String itemPath = path + "[" + i + "]";
            Endpoint endpoint = endpoint(node.get(i), itemPath, targetPort);
            if (endpoint == null) {
                continue;
            }
            if (!seen.add(endpoint.address())) {
                problem(itemPath, "duplicate endpoint " + endpoint);
                continue;
            }
            result.add(endpoint);
        }
        return result;
    }

    private Endpoint endpoint(JsonNode node, String path, int targetPort) {
        if (node.isString()) {
            InetSocketAddress address = connectable(hostPort(shown(node), path, true, targetPort), path);
            return address == null ? null : Endpoint.of(address);
        }
        Map<String, JsonNode> fields = mapping(node, path, ENDPOINT_KEYS);
        if (fields == null) {
            return null;
        }
        int before = problems.size();
        String addressText = requiredText(fields, path, "address");
        int port = optionalInt(fields, path, "port", 0, 1, 65535);
        int weight = optionalInt(fields, path, "weight", Endpoint.DEFAULT_WEIGHT, 0, MAX_WEIGHT);
        String nodeName = optionalText(fields, path, "node", "");
        boolean ready = optionalBoolean(fields, path, "ready", true);
        boolean serving = optionalBoolean(fields, path, "serving", ready);
        boolean terminating = optionalBoolean(fields, path, "terminating", false);
        int maxConnections = optionalInt(fields, path, "maxConnections", 0, 0, Integer.MAX_VALUE);
        InetSocketAddress address = null;
        if (addressText != null) {
            String addressPath = path + ".address";
            if (fields.containsKey("port")) {
                Optional<InetAddress> ip = Addresses.parseIp(stripBrackets(addressText));
                if (ip.isEmpty()) {
                    problem(addressPath, "'" + addressText + "' is not an IP address (with 'port' set, give the address alone)");
                } else {
                    address = new InetSocketAddress(ip.get(), port);
                }
            } else {
                address = hostPort(addressText, addressPath, true, targetPort);
            }
        }
        address = connectable(address, path + ".address");
        if (problems.size() > before || address == null) {
            return null;
        }
        return new Endpoint(address, weight, nodeName, ready, serving, terminating, maxConnections);
    }

    /** The address, or null (and a problem) when no connection can be made to it. */
    private InetSocketAddress connectable(InetSocketAddress address, String path) {
        if (address == null) {
            return null;
        }
        InetAddress ip = address.getAddress();
        String why = ip.isAnyLocalAddress() ? "a wildcard address"
                : ip.isMulticastAddress() ? "a multicast address"
                : Addresses.formatIp(ip).equals("255.255.255.255") ? "the broadcast address" : null;
        if (why != null) {
            problem(path, "cannot connect to " + Addresses.format(address) + ": it is " + why);
            return null;
        }
        return address;
    }

    /**
     * An endpoint that is one of this balancer's own listeners would relay every connection back
     * to itself until descriptors run out.
     */
    private void checkNoLoops(List<Service> services) {
        for (int s = 0; s < services.size(); s++) {
            List<ServicePort> ports = services.get(s).ports();
            for (int p = 0; p < ports.size(); p++) {
                // An endpoint can only loop back to a listener of its own protocol.
                Map<InetSocketAddress, String> own = listeners.getOrDefault(ports.get(p).protocol(), Map.of());
                List<Endpoint> endpoints = ports.get(p).endpoints();
                for (int e = 0; e < endpoints.size(); e++) {
                    InetSocketAddress target = endpoints.get(e).address();
                    for (InetSocketAddress listen : own.keySet()) {
                        boolean same = listen.equals(target)
                                || listen.getPort() == target.getPort() && listen.getAddress().isAnyLocalAddress()
                                && target.getAddress().isLoopbackAddress();
                        if (same) {
                            problem("services[" + s + "].ports[" + p + "].endpoints[" + e + "]", "endpoint "
                                    + Addresses.format(target) + " is this balancer's own listener " + Addresses.format(listen)
                                    + ": traffic would loop back to it");
                        }
                    }
                }
            }
        }
    }

    /**
     * acceptProxyProtocol and trustedUpstreams come together: accepting headers from anyone would
     * let any client name its own address, and a trust list without acceptance is a forgotten switch.
     */
    private AcceptProxyProtocol acceptProxyProtocol(Map<String, JsonNode> fields, String path) {
        boolean accept = optionalBoolean(fields, path, "acceptProxyProtocol", false);
        List<Cidr> trusted = cidrs(fields.get("trustedUpstreams"), path + ".trustedUpstreams");
        Duration timeout = optionalDuration(fields, path, "acceptProxyProtocolTimeout", AcceptProxyProtocol.DEFAULT_HEADER_TIMEOUT);
        if (accept && !fields.containsKey("trustedUpstreams")) {
            problem(path, "acceptProxyProtocol: true needs trustedUpstreams (the CIDRs of the balancers in front;"
                    + " headers from anyone else would let clients spoof their address)");
        } else if (accept && fields.get("trustedUpstreams").isArray() && fields.get("trustedUpstreams").isEmpty()) {
            problem(path + ".trustedUpstreams", "must name at least one CIDR when acceptProxyProtocol is true");
        }
        // A misspelt acceptProxyProtocol is reported once, at itself, not again at the keys it governs.
        boolean acceptSaidNo = !fields.containsKey("acceptProxyProtocol") || fields.get("acceptProxyProtocol").isBoolean() && !accept;
        if (acceptSaidNo && fields.containsKey("trustedUpstreams")) {
            problem(path + ".trustedUpstreams", "has no effect without acceptProxyProtocol: true");
        }
        if (acceptSaidNo && fields.containsKey("acceptProxyProtocolTimeout")) {
            problem(path + ".acceptProxyProtocolTimeout", "has no effect without acceptProxyProtocol: true");
        }
        if (timeout.isZero()) {
            problem(path + ".acceptProxyProtocolTimeout", "must be more than 0");
        }
        if (!accept || trusted.isEmpty() || timeout.isZero()) {
            return AcceptProxyProtocol.OFF;
        }
        return new AcceptProxyProtocol(trusted, timeout);
    }

    private List<Cidr> cidrs(JsonNode node, String path) {
        return textList(node, path, "CIDRs", "a CIDR such as 10.0.0.0/8 or fd00::/8", Cidr::parse);
    }

    /**
     * A list of strings, each turned into a value by {@code parse}; an entry it refuses (or that is
     * not text) is a problem saying it is not {@code one}. Null when absent: an empty list.
     */
    private <T> List<T> textList(JsonNode node, String path, String many, String one, Function<String, Optional<T>> parse) {
        List<T> result = new ArrayList<>();
        if (node == null) {
            return result;
        }
        if (!node.isArray()) {
            problem(path, "must be a list of " + many);
            return result;
        }
        for (int i = 0; i < node.size(); i++) {
            JsonNode item = node.get(i);
            Optional<T> value = item.isString() ? parse.apply(shown(item)) : Optional.empty();
            if (value.isEmpty()) {
                problem(path + "[" + i + "]", "'" + shown(item) + "' is not " + one);
            } else {
                result.add(value.get());
            }
        }
        return result;
    }

    private AdminConfig admin(JsonNode node) {
        AdminConfig d = AdminConfig.defaults();
        Map<String, JsonNode> fields = mapping(node, "admin", ADMIN_KEYS);
        if (fields == null) {
            return d;
        }
        InetSocketAddress metrics = d.metrics();
        InetSocketAddress healthz = d.healthz();
        String m = optionalText(fields, "admin", "metrics", null);
        if (m != null) {
            InetSocketAddress a = hostPort(m, "admin.metrics", false, 0, true);
            metrics = a == null ? metrics : a;
        }
        String h = optionalText(fields, "admin", "healthz", null);
        if (h != null) {
            InetSocketAddress a = hostPort(h, "admin.healthz", false, 0, true);
            healthz = a == null ? healthz : a;
        }
        return new AdminConfig(metrics, healthz, hostNames(fields.get("allowedHosts"), "admin.allowedHosts"));
    }

    private List<String> hostNames(JsonNode node, String path) {
        return textList(node, path, "DNS names such as lb.example.internal",
                "a DNS name such as lb.example.internal (IP addresses and localhost are always allowed)", text -> {
                    String name = text.toLowerCase(Locale.ROOT);
                    return HOST_NAME.matcher(name).matches() && name.length() <= 253 ? Optional.of(name) : Optional.empty();
                });
    }

    /**
     * Parses {@code address:port}; with {@code portOptional}, a bare address takes
     * {@code defaultPort} (a port's targetPort) when that is set.
     */
    private InetSocketAddress hostPort(String text, String path, boolean portOptional, int defaultPort) {
        return hostPort(text, path, portOptional, defaultPort, false);
    }

    /** As above; with {@code zeroAllowed}, port 0 (the kernel picks one) is accepted too. */
    private InetSocketAddress hostPort(String text, String path, boolean portOptional, int defaultPort,
                                       boolean zeroAllowed) {
        String host;
        String port;
        if (text.startsWith("[")) {
            int close = text.indexOf(']');
            if (close < 0) {
                problem(path, "'" + text + "' has '[' without ']'");
                return null;
            }
            host = text.substring(1, close);
            if (host.indexOf(':') < 0) {
                problem(path, "'" + text + "': brackets are for IPv6 addresses only");
                return null;
            }
            String rest = text.substring(close + 1);
            if (rest.isEmpty()) {
                port = null;
            } else if (rest.startsWith(":")) {
                port = rest.substring(1);
            } else {
                problem(path, "'" + text + "' is not \"[address]:port\"");
                return null;
            }
        } else if (text.chars().filter(c -> c == ':').count() > 1) {
            problem(path, "'" + text + "' looks like an IPv6 address: write it as \"[" + text + "]\" with the port after");
            return null;
        } else {
            int colon = text.indexOf(':');
            host = colon < 0 ? text : text.substring(0, colon);
            port = colon < 0 ? null : text.substring(colon + 1);
        }
        Optional<InetAddress> ip = Addresses.parseIp(host);
        if (ip.isEmpty()) {
            problem(path, "bad address '" + host + "' in '" + text + "': not an IPv4 or IPv6 address (host names are not resolved)");
            return null;
        }
        int portNumber;
        if (port == null) {
            if (portOptional && defaultPort > 0) {
                portNumber = defaultPort;
            } else if (portOptional) {
                problem(path, "'" + text + "' has no port, and the port entry has no targetPort");
                return null;
            } else {
                problem(path, "'" + text + "' has no port: write \"address:port\"");
                return null;
            }
        } else {
            portNumber = Addresses.parsePort(port);
            if (portNumber < 0 || portNumber == 0 && !zeroAllowed) {
                problem(path, "port '" + port + "' in '" + text + "' is out of range " + (zeroAllowed ? "0" : "1") + "..65535");
                return null;
            }
        }
        return new InetSocketAddress(ip.get(), portNumber);
    }

    private static String stripBrackets(String text) {
        return text.startsWith("[") && text.endsWith("]") ? text.substring(1, text.length() - 1) : text;
    }

    /** The fields of a mapping, with every unknown key reported; null (and a problem) when not a mapping. */
    private Map<String, JsonNode> mapping(JsonNode node, String path, Set<String> known) {
        if (node == null || !node.isObject()) {
            problem(path, "must be a mapping of keys to values");
            return null;
        }
        Map<String, JsonNode> fields = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> e : node.properties()) {
            if (!known.contains(e.getKey())) {
                problem(path.isEmpty() ? e.getKey() : path + "." + e.getKey(), "unknown key '" + e.getKey()
                        + "' (known here: " + String.join(", ", known.stream().sorted().toList()) + ")");
            } else {
                fields.put(e.getKey(), e.getValue());
            }
        }
        return fields;
    }

    private String requiredText(Map<String, JsonNode> fields, String path, String key) {
        if (!fields.containsKey(key)) {
            problem(path, "missing key '" + key + "'");
            return null;
        }
        return optionalText(fields, path, key, null);
    }

    private String optionalText(Map<String, JsonNode> fields, String path, String key, String fallback) {
        JsonNode value = fields.get(key);
        if (value == null) {
            return fallback;
        }
        if (!value.isString() || shown(value).isEmpty()) {
            problem(join(path, key), "must be a non-empty string");
            return fallback;
        }
        return shown(value);
    }

    private int optionalInt(Map<String, JsonNode> fields, String path, String key, int fallback, int min, int max) {
        JsonNode value = fields.get(key);
        if (value == null) {
            return fallback;
        }
        if (!value.isIntegralNumber() || !value.canConvertToInt()) {
            problem(join(path, key), "must be a whole number from " + min + " to " + max + ", not '" + shown(value) + "'");
            return fallback;
        }
        int number = value.intValue();
        if (number < min || number > max) {
            problem(join(path, key), number + " is out of range " + min + ".." + max);
            return fallback;
        }
        return number;
    }

    private boolean optionalBoolean(Map<String, JsonNode> fields, String path, String key, boolean fallback) {
        JsonNode value = fields.get(key);
        if (value == null) {
            return fallback;
        }
        if (!value.isBoolean()) {
            problem(join(path, key), "must be true or false, not '" + shown(value) + "'");
            return fallback;
        }
        return value.booleanValue();
    }

    private Duration optionalDuration(Map<String, JsonNode> fields, String path, String key, Duration fallback) {
        JsonNode value = fields.get(key);
        if (value == null) {
            return fallback;
        }
        // Of the numbers only 0 reads as a duration: Durations.parse takes "0" and nothing else without a unit.
        Optional<Duration> duration = value.isString() || value.isIntegralNumber()
                ? Durations.parse(shown(value)) : Optional.empty();
        if (duration.isEmpty()) {
            problem(join(path, key), "'" + shown(value) + "' is not a duration such as 500ms, 1s, 2m or 1h30m");
            return fallback;
        }
        return duration.get();
    }

    private static String jackson2Words(String message) {
        return message == null ? null : DUPLICATE_KEY.matcher(message).replaceFirst("Duplicate field '$1'");
    }

    /** A value as a message quotes it: Jackson 2's text of it, "null" for null and "" for a list or mapping. */
    private static String shown(JsonNode value) {
        return value.isNull() ? "null" : value.isContainer() ? "" : value.asString();
    }

    private static String join(String path, String key) {
        return path.isEmpty() ? key : path + "." + key;
    }

    private void problem(String path, String message) {
        problems.add(new ConfigProblem(file, path, message));
    }
}

package dev.l4lb.core.kube;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

import io.fabric8.kubernetes.api.model.EndpointAddress;
import io.fabric8.kubernetes.api.model.EndpointSubset;
import io.fabric8.kubernetes.api.model.Endpoints;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServicePort;
import io.fabric8.kubernetes.api.model.ServiceSpec;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointPort;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointPortBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSliceBuilder;
import org.jspecify.annotations.Nullable;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.DatabindException;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.MappingIterator;
import tools.jackson.dataformat.yaml.YAMLMapper;

import dev.l4lb.core.config.ConfigException;
import dev.l4lb.core.config.ConfigProblem;
import dev.l4lb.core.config.Utf8File;
import dev.l4lb.core.model.Addresses;
import dev.l4lb.core.model.Cidr;
import dev.l4lb.core.model.PortPolicy;

/**
 * Reads Services, EndpointSlices and v1 Endpoints from manifest files the way {@code kubectl apply
 * -f} takes them: YAML or JSON, several documents per file, {@code kind: List}, directories
 * (their {@code .yaml}, {@code .yml} and {@code .json} files, in name order). Other kinds
 * (Deployments, ConfigMaps, ...) are passed over, so a whole app's manifest can be given. Every
 * problem is reported with the file, the document and the field.
 */
public final class KubeManifests {
    private static final YAMLMapper YAML = YAMLMapper.builder().build();
    private static final Set<String> SERVICE_TYPES = Set.of("ClusterIP", "NodePort", "LoadBalancer", "ExternalName");
    private static final Set<String> PROTOCOLS = Set.of("TCP", "UDP", "SCTP");
    private static final Set<String> POLICIES = Set.of("Cluster", "Local");
    private static final Set<String> ADDRESS_TYPES = Set.of("IPv4", "IPv6", "FQDN");

    private final List<Service> services = new ArrayList<>();
    private final List<EndpointSlice> slices = new ArrayList<>();
    private final List<Node> nodes = new ArrayList<>();
    private final List<ConfigProblem> problems = new ArrayList<>();
    /** kind namespace/name to where it was first read. */
    private final Map<String, String> seen = new java.util.HashMap<>();

    private KubeManifests() {
    }

    /**
     * The Services, EndpointSlices (v1 Endpoints turned into slices) and Nodes in these files and directories.
     *
     * @throws ConfigException with every problem found, when any is
     */
    public static ClusterObjects load(List<Path> paths) throws ConfigException {
        KubeManifests reader = new KubeManifests();
        for (Path path : paths) {
            reader.readPath(path);
        }
        if (!reader.problems.isEmpty()) {
            throw new ConfigException(reader.problems);
        }
        return new ClusterObjects(reader.services, reader.slices, reader.nodes);
    }

    /** Reads one file's text; {@code fileName} names it in problems. */
    public static ClusterObjects parse(String fileName, String text) throws ConfigException {
        KubeManifests reader = new KubeManifests();
        reader.readText(fileName, text);
        if (!reader.problems.isEmpty()) {
            throw new ConfigException(reader.problems);
        }
        return new ClusterObjects(reader.services, reader.slices, reader.nodes);
    }

    private void readPath(Path path) {
        if (Files.isDirectory(path)) {
            try (Stream<Path> files = Files.list(path)) {
                List<Path> manifests = files.filter(p -> Files.isRegularFile(p) && isManifest(p)).sorted().toList();
                if (manifests.isEmpty()) {
                    problems.add(new ConfigProblem(path.toString(), "", "directory has no .yaml, .yml or .json files"));
                }
                manifests.forEach(this::readPath);
            } catch (IOException e) {
                problems.add(new ConfigProblem(path.toString(), "", "cannot list directory: " + e.getMessage()));
            }
            return;
        }
        try {
            readText(path.toString(), Utf8File.read(path));
        } catch (ConfigException e) {
            problems.addAll(e.problems());
        } catch (IOException e) {
            problems.add(new ConfigProblem(path.toString(), "", "cannot read: " + e));
        }
    }

    private static boolean isManifest(Path file) {
        String name = file.getFileName().toString();
        return name.endsWith(".yaml") || name.endsWith(".yml") || name.endsWith(".json");
    }

    private void readText(String file, String text) {
        int document = 0;
        boolean started = false; // whether the parser's error, if any, is in document `document` or the next
        try (MappingIterator<JsonNode> docs = YAML.readerFor(JsonNode.class).readValues(text)) {
            while (docs.hasNextValue()) {
                document++;
                started = true;
                JsonNode node = docs.nextValue();
                started = false;
                if (node == null || node.isNull() || node.isMissingNode()) {
                    continue; // an empty document between two '---'
                }
                readObject(file, "document " + document, node);
            }
        } catch (JacksonException e) {
            problems.add(new ConfigProblem(file, "document " + (started ? document : document + 1), "not valid YAML: " + ConfigProblem.yamlMessage(e.getOriginalMessage())
                    + (e.getLocation() == null ? "" : " (line " + e.getLocation().getLineNr() + ")")));
        }
    }

    private void readObject(String file, String where, JsonNode node) {
        if (!node.isObject()) {
            problems.add(new ConfigProblem(file, where, "expected a Kubernetes object (a mapping with apiVersion and kind)"));
            return;
        }
        String kind = node.path("kind").asString("");
        String apiVersion = node.path("apiVersion").asString("");
        String name = node.path("metadata").path("name").asString("");
        String label = where + " (" + (kind.isEmpty() ? "?" : kind) + (name.isEmpty() ? "" : " " + name) + ")";
        if (!kind.equals("List") && nullListEntries(file, label, "", node)) {
            return; // the API server refuses these too; the checks below would trip over them
        }
        try {
            read(file, where, label, kind, apiVersion, node);
        } catch (RuntimeException e) {
            // Not expected: each field is checked before it is used. Should one slip through, the
            // user still gets a line that names the object, not a stack trace.
            problems.add(new ConfigProblem(file, label, "cannot be read (" + e + "): l4lb failed to check this object,"
                    + " please report it"));
        }
    }

    /** Whether {@code node} has a list with a null entry anywhere below it; each is a problem. */
    private boolean nullListEntries(String file, String label, String path, JsonNode node) {
        boolean found = false;
        if (node.isArray()) {
            for (int i = 0; i < node.size(); i++) {
                String at = path + "[" + i + "]";
                if (node.get(i).isNull()) {
                    problems.add(new ConfigProblem(file, label + " " + at, "is null: a list entry must have a value"));
                    found = true;
                } else {
                    found |= nullListEntries(file, label, at, node.get(i));
                }
            }
        } else if (node.isObject()) {
            for (var field : node.properties()) {
                found |= nullListEntries(file, label, path.isEmpty() ? field.getKey() : path + "." + field.getKey(),
                        field.getValue());
            }
        }
        return found;
    }

    private void read(String file, String where, String label, String kind, String apiVersion, JsonNode node) {
        switch (kind) {
            case "List" -> {
                JsonNode items = node.path("items");
                for (int i = 0; i < items.size(); i++) {
                    readObject(file, where + " items[" + i + "]", items.get(i));
                }
            }
            case "Service" -> {
                if (expectVersion(file, label, apiVersion, "v1")) {
                    Service service = bind(file, label, node, Service.class);
                    if (service != null && checkService(file, label, service)) {
                        services.add(service);
                    }
                }
            }
            case "EndpointSlice" -> {
                if (expectVersion(file, label, apiVersion, "discovery.k8s.io/v1")) {
                    EndpointSlice slice = bind(file, label, node, EndpointSlice.class);
                    if (slice != null && checkSlice(file, label, slice)) {
                        slices.add(slice);
                    }
                }
            }
            case "Endpoints" -> {
                if (expectVersion(file, label, apiVersion, "v1")) {
                    Endpoints endpoints = bind(file, label, node, Endpoints.class);
                    if (endpoints != null && checkEndpoints(file, label, endpoints)) {
                        slices.addAll(toSlices(endpoints));
                    }
                }
            }
            case "Node" -> {
                // The proxier's own Node: its zone label and whether it is being deleted.
                if (expectVersion(file, label, apiVersion, "v1")) {
                    Node read = bind(file, label, node, Node.class);
                    if (read != null) {
                        checkMeta(file, label, read.getMetadata());
                        checkUnique(file, label, "Node", read.getMetadata());
                        nodes.add(read);
                    }
                }
            }
            case "" -> problems.add(new ConfigProblem(file, label + " kind", "is missing"));
            default -> {
                // Deployments, Pods, ConfigMaps...: the manifest of a whole app; the proxier needs none of them.
            }
        }
    }

    private boolean expectVersion(String file, String label, String apiVersion, String expected) {
        if (!apiVersion.equals(expected)) {
            problems.add(new ConfigProblem(file, label + " apiVersion",
                    (apiVersion.isEmpty() ? "is missing" : "is " + apiVersion) + "; expected " + expected));
            return false;
        }
        return true;
    }

    private <T> @Nullable T bind(String file, String label, JsonNode node, Class<T> type) {
        try {
            return YAML.treeToValue(node, type);
        } catch (DatabindException e) {
            String field = e.getPath().stream()
                    .map(ref -> ref.getPropertyName() != null ? "." + ref.getPropertyName() : "[" + ref.getIndex() + "]")
                    .reduce("", String::concat);
            problems.add(new ConfigProblem(file, label + " " + (field.startsWith(".") ? field.substring(1) : field),
                    e.getOriginalMessage()));
        } catch (JacksonException e) {
            problems.add(new ConfigProblem(file, label, e.getOriginalMessage()));
        }
        return null;
    }

    private boolean checkService(String file, String label, Service service) {
        int before = problems.size();
        checkMeta(file, label, service.getMetadata());
        checkUnique(file, label, "Service", service.getMetadata());
        ServiceSpec spec = service.getSpec();
        if (spec == null) {
            problems.add(new ConfigProblem(file, label + " spec", "is missing"));
            return false;
        }
        oneOf(file, label + " spec.type", spec.getType(), SERVICE_TYPES);
        oneOf(file, label + " spec.sessionAffinity", spec.getSessionAffinity(), Set.of("None", "ClientIP"));
        oneOf(file, label + " spec.externalTrafficPolicy", spec.getExternalTrafficPolicy(), POLICIES);
        oneOf(file, label + " spec.internalTrafficPolicy", spec.getInternalTrafficPolicy(), POLICIES);
        String clusterIp = spec.getClusterIP();
        if (clusterIp != null && !clusterIp.isEmpty() && !clusterIp.equals("None") && Addresses.parseIp(clusterIp).isEmpty()) {
            problems.add(new ConfigProblem(file, label + " spec.clusterIP", "is not an IP address, \"None\" or empty: " + clusterIp));
        }
        ips(file, label + " spec.clusterIPs", spec.getClusterIPs(), "None");
        ips(file, label + " spec.externalIPs", spec.getExternalIPs(), null);
        List<String> ranges = spec.getLoadBalancerSourceRanges() == null ? List.of() : spec.getLoadBalancerSourceRanges();
        for (int i = 0; i < ranges.size(); i++) {
            if (Cidr.parse(ranges.get(i).trim()).isEmpty()) {
                problems.add(new ConfigProblem(file, label + " spec.loadBalancerSourceRanges[" + i + "]",
                        "is not a CIDR such as 203.0.113.0/24: " + ranges.get(i)));
            }
        }
        if (service.getStatus() != null && service.getStatus().getLoadBalancer() != null
                && service.getStatus().getLoadBalancer().getIngress() != null) {
            var ingress = service.getStatus().getLoadBalancer().getIngress();
            for (int i = 0; i < ingress.size(); i++) {
                String ip = ingress.get(i).getIp();
                if (ip != null && !ip.isEmpty() && Addresses.parseIp(ip).isEmpty()) {
                    problems.add(new ConfigProblem(file, label + " status.loadBalancer.ingress[" + i + "].ip", "is not an IP address: " + ip));
                }
            }
        }
        if (spec.getSessionAffinityConfig() != null && spec.getSessionAffinityConfig().getClientIP() != null) {
            Integer timeout = spec.getSessionAffinityConfig().getClientIP().getTimeoutSeconds();
            if (timeout != null && (timeout < 1 || timeout > PortPolicy.MAX_AFFINITY_TIMEOUT_SECONDS)) {
                problems.add(new ConfigProblem(file, label + " spec.sessionAffinityConfig.clientIP.timeoutSeconds",
                        "must be 1.." + PortPolicy.MAX_AFFINITY_TIMEOUT_SECONDS + " (Kubernetes' bounds): " + timeout));
            }
        }
        port(file, label + " spec.healthCheckNodePort", spec.getHealthCheckNodePort(), false);
        List<ServicePort> ports = spec.getPorts() == null ? List.of() : spec.getPorts();
        if (ports.isEmpty() && !"ExternalName".equals(spec.getType()) && !"None".equals(clusterIp)) {
            problems.add(new ConfigProblem(file, label + " spec.ports", "is missing: a Service needs at least one port"));
        }
        for (int i = 0; i < ports.size(); i++) {
            ServicePort port = ports.get(i);
            String at = label + " spec.ports[" + i + "]";
            port(file, at + ".port", port.getPort(), true);
            port(file, at + ".nodePort", port.getNodePort(), false);
            oneOf(file, at + ".protocol", port.getProtocol(), PROTOCOLS);
            if (ports.size() > 1 && (port.getName() == null || port.getName().isEmpty())) {
                problems.add(new ConfigProblem(file, at + ".name", "is required when a Service has more than one port"));
            }
            // As the API server's validation: a port's name, and its number with its protocol, once each.
            for (int j = 0; j < i; j++) {
                ServicePort earlier = ports.get(j);
                if (port.getName() != null && !port.getName().isEmpty() && port.getName().equals(earlier.getName())) {
                    problems.add(new ConfigProblem(file, at + ".name", "duplicate port name " + port.getName()
                            + " (also spec.ports[" + j + "])"));
                }
                if (port.getPort() != null && port.getPort().equals(earlier.getPort())
                        && protocolOf(port).equals(protocolOf(earlier))) {
                    problems.add(new ConfigProblem(file, at, "duplicate port " + port.getPort() + "/" + protocolOf(port)
                            + " (also spec.ports[" + j + "])"));
                }
            }
        }
        return problems.size() == before;
    }

    private static String protocolOf(ServicePort port) {
        return port.getProtocol() == null ? "TCP" : port.getProtocol();
    }

    private boolean checkSlice(String file, String label, EndpointSlice slice) {
        int before = problems.size();
        checkMeta(file, label, slice.getMetadata());
        checkUnique(file, label, "EndpointSlice", slice.getMetadata());
        Map<String, String> labels = slice.getMetadata() == null ? null : slice.getMetadata().getLabels();
        if (labels == null || labels.get(ClusterServices.SERVICE_NAME_LABEL) == null) {
            problems.add(new ConfigProblem(file, label + " metadata.labels", "needs " + ClusterServices.SERVICE_NAME_LABEL
                    + ": the name of the Service this slice belongs to"));
        }
        String type = slice.getAddressType();
        if (type == null) {
            problems.add(new ConfigProblem(file, label + " addressType", "is missing (IPv4, IPv6 or FQDN)"));
        } else {
            oneOf(file, label + " addressType", type, ADDRESS_TYPES);
        }
        var endpoints = slice.getEndpoints() == null ? List.<io.fabric8.kubernetes.api.model.discovery.v1.Endpoint>of() : slice.getEndpoints();
        for (int i = 0; i < endpoints.size(); i++) {
            List<String> addresses = endpoints.get(i).getAddresses() == null ? List.of() : endpoints.get(i).getAddresses();
            if (addresses.isEmpty()) {
                problems.add(new ConfigProblem(file, label + " endpoints[" + i + "].addresses", "is missing"));
            }
            for (int j = 0; j < addresses.size(); j++) {
                if (!"FQDN".equals(type) && Addresses.parseIp(addresses.get(j)).isEmpty()) {
                    problems.add(new ConfigProblem(file, label + " endpoints[" + i + "].addresses[" + j + "]",
                            "is not an IP address: " + addresses.get(j)));
                }
            }
        }
        List<EndpointPort> ports = slice.getPorts() == null ? List.of() : slice.getPorts();
        for (int i = 0; i < ports.size(); i++) {
            port(file, label + " ports[" + i + "].port", ports.get(i).getPort(), true);
            oneOf(file, label + " ports[" + i + "].protocol", ports.get(i).getProtocol(), PROTOCOLS);
        }
        return problems.size() == before;
    }

    private boolean checkEndpoints(String file, String label, Endpoints endpoints) {
        int before = problems.size();
        checkMeta(file, label, endpoints.getMetadata());
        checkUnique(file, label, "Endpoints", endpoints.getMetadata());
        List<EndpointSubset> subsets = endpoints.getSubsets() == null ? List.of() : endpoints.getSubsets();
        for (int i = 0; i < subsets.size(); i++) {
            EndpointSubset subset = subsets.get(i);
            checkAddresses(file, label + " subsets[" + i + "].addresses", subset.getAddresses());
            checkAddresses(file, label + " subsets[" + i + "].notReadyAddresses", subset.getNotReadyAddresses());
            var ports = subset.getPorts() == null ? List.<io.fabric8.kubernetes.api.model.EndpointPort>of() : subset.getPorts();
            for (int j = 0; j < ports.size(); j++) {
                port(file, label + " subsets[" + i + "].ports[" + j + "].port", ports.get(j).getPort(), true);
                oneOf(file, label + " subsets[" + i + "].ports[" + j + "].protocol", ports.get(j).getProtocol(), PROTOCOLS);
            }
        }
        return problems.size() == before;
    }

    private void checkAddresses(String file, String at, List<EndpointAddress> addresses) {
        if (addresses == null) {
            return;
        }
        for (int i = 0; i < addresses.size(); i++) {
            String ip = addresses.get(i).getIp();
            if (ip == null || Addresses.parseIp(ip).isEmpty()) {
                problems.add(new ConfigProblem(file, at + "[" + i + "].ip", ip == null ? "is missing" : "is not an IP address: " + ip));
            }
        }
    }

    private void checkMeta(String file, String label, ObjectMeta meta) {
        if (meta == null || meta.getName() == null || meta.getName().isEmpty()) {
            problems.add(new ConfigProblem(file, label + " metadata.name", "is missing"));
        }
    }

    /**
     * One object per kind, namespace and name, as the API server holds them: a second one (the same
     * file given twice, or a directory and a file in it) would be a silent replacement otherwise.
     */
    private void checkUnique(String file, String label, String kind, ObjectMeta meta) {
        if (meta == null || meta.getName() == null || meta.getName().isEmpty()) {
            return;
        }
        String namespace = ClusterServices.namespaceOf(meta);
        String first = seen.putIfAbsent(kind + " " + namespace + "/" + meta.getName(), file + ": " + label);
        if (first != null) {
            problems.add(new ConfigProblem(file, label + " metadata.name", "is " + kind + " " + namespace + "/"
                    + meta.getName() + " again; the first is at " + first));
        }
    }

    private void ips(String file, String at, @Nullable List<String> texts, @Nullable String allowed) {
        if (texts == null) {
            return;
        }
        for (int i = 0; i < texts.size(); i++) {
            String text = texts.get(i);
            if (!text.equals(allowed) && Addresses.parseIp(text).isEmpty()) {
                problems.add(new ConfigProblem(file, at + "[" + i + "]", "is not an IP address: " + text));
            }
        }
    }

    private void oneOf(String file, String at, String value, Set<String> allowed) {
        if (value != null && !allowed.contains(value)) {
            problems.add(new ConfigProblem(file, at, "is " + value + "; expected one of " + allowed.stream().sorted().toList()));
        }
    }

    private void port(String file, String at, Integer value, boolean required) {
        if (value == null) {
            if (required) {
                problems.add(new ConfigProblem(file, at, "is missing"));
            }
        } else if (value < 1 || value > 65535) {
            problems.add(new ConfigProblem(file, at, "must be 1..65535: " + value));
        }
    }

    /**
     * v1 Endpoints as the EndpointSlice mirroring controller would give them: one slice per subset
     * and address family; notReadyAddresses are endpoints that are not ready.
     */
    static List<EndpointSlice> toSlices(Endpoints endpoints) {
        List<EndpointSlice> out = new ArrayList<>();
        ObjectMeta meta = endpoints.getMetadata();
        List<EndpointSubset> subsets = endpoints.getSubsets() == null ? List.of() : endpoints.getSubsets();
        for (int i = 0; i < subsets.size(); i++) {
            EndpointSubset subset = subsets.get(i);
            List<EndpointPort> ports = new ArrayList<>();
            for (var port : subset.getPorts() == null ? List.<io.fabric8.kubernetes.api.model.EndpointPort>of() : subset.getPorts()) {
                ports.add(new EndpointPortBuilder().withName(port.getName()).withPort(port.getPort())
                        .withProtocol(port.getProtocol()).build());
            }
            for (String family : List.of("IPv4", "IPv6")) {
                List<io.fabric8.kubernetes.api.model.discovery.v1.Endpoint> slicePoints = new ArrayList<>();
                addEndpoints(slicePoints, subset.getAddresses(), true, family);
                addEndpoints(slicePoints, subset.getNotReadyAddresses(), false, family);
                if (!slicePoints.isEmpty()) {
                    out.add(new EndpointSliceBuilder()
                            .withMetadata(new ObjectMetaBuilder().withName(meta.getName() + "-" + i + "-" + family.toLowerCase())
                                    .withNamespace(meta.getNamespace())
                                    .withLabels(Map.of(ClusterServices.SERVICE_NAME_LABEL, meta.getName())).build())
                            .withAddressType(family).withEndpoints(slicePoints).withPorts(ports).build());
                }
            }
        }
        return out;
    }

    private static void addEndpoints(List<io.fabric8.kubernetes.api.model.discovery.v1.Endpoint> out,
                                     List<EndpointAddress> addresses, boolean ready, String family) {
        if (addresses == null) {
            return;
        }
        for (EndpointAddress address : addresses) {
            boolean v6 = address.getIp().contains(":");
            if (v6 == family.equals("IPv6")) {
                out.add(new EndpointBuilder().withAddresses(address.getIp()).withNodeName(address.getNodeName())
                        .withNewConditions().withReady(ready).withServing(ready).withTerminating(false).endConditions()
                        .build());
            }
        }
    }
}

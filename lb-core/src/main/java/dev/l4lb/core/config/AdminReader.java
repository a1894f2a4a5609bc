package dev.l4lb.core.config;

import java.net.InetSocketAddress;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;

import org.jspecify.annotations.Nullable;
import tools.jackson.databind.JsonNode;

/** Reads the {@code admin} section: where metrics and health are served, and the host names they answer to. */
final class AdminReader {
    private static final Set<String> KEYS = Set.of("metrics", "healthz", "allowedHosts");
    /** A DNS name: labels of letters, digits and inner hyphens, joined by dots. */
    private static final Pattern HOST_NAME = Pattern.compile("[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*");

    private final Problems problems;
    private final AddressReader addresses;

    AdminReader(Problems problems, AddressReader addresses) {
        this.problems = problems;
        this.addresses = addresses;
    }

    /** The section; what is wrong in it is reported, and the defaults stand in. */
    AdminConfig read(@Nullable JsonNode node) {
        AdminConfig d = AdminConfig.defaults();
        FieldReader fields = FieldReader.of(node, "admin", KEYS, problems);
        if (fields == null) {
            return d;
        }
        InetSocketAddress metrics = address(fields, "metrics", d.metrics());
        InetSocketAddress healthz = address(fields, "healthz", d.healthz());
        return new AdminConfig(metrics, healthz, fields.strings("allowedHosts", "DNS names such as lb.example.internal",
                "a DNS name such as lb.example.internal (IP addresses and localhost are always allowed)", text -> {
                    String name = text.toLowerCase(Locale.ROOT);
                    return HOST_NAME.matcher(name).matches() && name.length() <= 253 ? Optional.of(name) : Optional.empty();
                }));
    }

    /** A listen address; port 0 lets the kernel pick one. */
    private InetSocketAddress address(FieldReader fields, String key, InetSocketAddress fallback) {
        String text = fields.string(key, null);
        if (text == null) {
            return fallback;
        }
        InetSocketAddress address = addresses.hostPort(text, fields.path(key), false, 0, true);
        return address == null ? fallback : address;
    }
}

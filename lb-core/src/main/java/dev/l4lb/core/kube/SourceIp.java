package dev.l4lb.core.kube;

import java.util.Optional;

/**
 * What a Service's pods see as the client's address, by its {@value #ANNOTATION} annotation:
 * {@code transparent} (the default) connects from the client's own address where kube-proxy
 * would keep it (externalTrafficPolicy Local from outside, pods calling a ClusterIP);
 * {@code proxy-v2} connects from the node and sends a PROXY v2 header naming the client first,
 * for pods that read one (nginx's {@code proxy_protocol}); {@code none} connects from the node.
 */
public enum SourceIp {
    TRANSPARENT("transparent"),
    PROXY_V2("proxy-v2"),
    NONE("none");

    /** The Service annotation that chooses. */
    public static final String ANNOTATION = "l4lb.dev/source-ip";

    private final String value;

    SourceIp(String value) {
        this.value = value;
    }

    /** The annotation's value naming this choice. */
    public String value() {
        return value;
    }

    /** The choice an annotation value names; empty when it names none. */
    static Optional<SourceIp> parse(String value) {
        for (SourceIp choice : values()) {
            if (choice.value.equals(value.trim())) {
                return Optional.of(choice);
            }
        }
        return Optional.empty();
    }
}

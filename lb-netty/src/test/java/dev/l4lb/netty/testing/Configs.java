package dev.l4lb.netty.testing;

import java.net.InetSocketAddress;
import java.util.List;
import java.util.stream.Collectors;

import dev.l4lb.core.config.BalancerConfig;
import dev.l4lb.core.config.ConfigException;
import dev.l4lb.core.config.ConfigLoader;
import dev.l4lb.core.model.Addresses;

/** Configs for tests, written as users write them: YAML through the real loader. */
public final class Configs {
    private Configs() {
    }

    /** One TCP service listening on {@code listen}, over {@code endpoints}, plus extra port keys. */
    public static BalancerConfig tcp(InetSocketAddress listen, List<InetSocketAddress> endpoints, String... extraPortKeys) {
        String extra = extraPortKeys.length == 0 ? ""
                : List.of(extraPortKeys).stream().map(k -> "        " + k + "\n").collect(Collectors.joining());
        String yaml = """
                services:
                  - name: test/svc
                    ports:
                      - name: p
                        listen: ["%s"]
                %s        endpoints: [%s]
                """.formatted(Addresses.format(listen), extra,
                endpoints.stream().map(e -> "\"" + Addresses.format(e) + "\"").collect(Collectors.joining(", ")));
        return parse(yaml);
    }

    /**
     * The file text of one TCP service {@code name} on {@code listen} over {@code endpoints}, with
     * the admin server's two addresses: for the tests that start {@code lb run} as a process.
     */
    public static String tcpFile(String name, InetSocketAddress listen, List<InetSocketAddress> endpoints,
                                 InetSocketAddress metrics, InetSocketAddress healthz) {
        return """
                admin: {metrics: "%s", healthz: "%s"}
                services:
                  - name: %s
                    ports:
                      - listen: ["%s"]
                        endpoints: [%s]
                """.formatted(Addresses.format(metrics), Addresses.format(healthz), name, Addresses.format(listen),
                endpoints.stream().map(e -> "\"" + Addresses.format(e) + "\"").collect(Collectors.joining(", ")));
    }

    public static BalancerConfig parse(String yaml) {
        try {
            return ConfigLoader.parse("test.yaml", yaml);
        } catch (ConfigException e) {
            throw new IllegalArgumentException(e.getMessage() + "\n" + yaml, e);
        }
    }
}

package dev.l4lb.core.config;

import java.util.Optional;
import java.util.Set;

import org.jspecify.annotations.Nullable;
import tools.jackson.databind.JsonNode;

import dev.l4lb.core.model.ClientLimits;
import dev.l4lb.core.model.Rate;

/** Reads a port's {@code limits}: per-client limits and the port's connection rate. */
final class LimitsReader {
    static final String KEY = "limits";
    private static final Set<String> KEYS = Set.of("maxConnectionsPerClient", "connectionRatePerClient", "connectionRate",
            "clientTableSize", "clientPrefixV6");

    private final Problems problems;

    LimitsReader(Problems problems) {
        this.problems = problems;
    }

    /** The port's limits; {@link ClientLimits#NONE} when it has none or they have a problem (reported). */
    ClientLimits read(FieldReader port) {
        if (!port.has(KEY)) {
            return ClientLimits.NONE;
        }
        FieldReader fields = FieldReader.of(port.node(KEY), port.path(KEY), KEYS, problems);
        if (fields == null) {
            return ClientLimits.NONE;
        }
        int before = problems.count();
        int maxPerClient = fields.integer("maxConnectionsPerClient", 0, 0, Integer.MAX_VALUE);
        Rate perClient = rate(fields, "connectionRatePerClient");
        Rate portRate = rate(fields, "connectionRate");
        int tableSize = fields.integer("clientTableSize", ClientLimits.DEFAULT_CLIENT_TABLE_SIZE, 1,
                ClientLimits.MAX_CLIENT_TABLE_SIZE);
        int prefix = fields.integer("clientPrefixV6", ClientLimits.DEFAULT_CLIENT_PREFIX_V6, 1, 128);
        boolean perClientLimit = maxPerClient > 0 || perClient != null;
        boolean clean = problems.count() == before;
        if (port.node(KEY).isEmpty()) { // limits: {}
            problems.add(fields.path(), "names no limit: give maxConnectionsPerClient, connectionRatePerClient or connectionRate");
        }
        // A table or a prefix with no per-client limit to apply them to is a forgotten switch.
        for (String key : new String[] {"clientTableSize", "clientPrefixV6"}) {
            if (fields.has(key) && !perClientLimit && clean) {
                problems.add(fields.path(key), "has no effect without maxConnectionsPerClient or connectionRatePerClient");
            }
        }
        if (problems.count() > before) {
            return ClientLimits.NONE;
        }
        return new ClientLimits(maxPerClient, perClient, portRate, tableSize, prefix);
    }

    private @Nullable Rate rate(FieldReader fields, String key) {
        JsonNode node = fields.node(key);
        if (node == null) {
            return null;
        }
        Optional<Rate> rate = node.isString() ? Rate.parse(FieldReader.shown(node)) : Optional.empty();
        if (rate.isEmpty()) {
            problems.add(fields.path(key), "'" + FieldReader.shown(node) + "' is not a rate such as 50/s or 600/m"
                    + " (1 to " + Rate.MAX_PER_SECOND + " a second)");
            return null;
        }
        return rate.get();
    }
}

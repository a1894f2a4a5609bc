package dev.l4lb.core.config;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;

import org.jspecify.annotations.Nullable;
import tools.jackson.databind.JsonNode;

/**
 * The fields of one YAML mapping of a config file, read by type: a value of the wrong type or out
 * of range is a problem at the field's path, and the read gives the fallback, so that one pass
 * reports every mistake in the file.
 */
final class FieldReader {
    private final String path;
    private final Map<String, JsonNode> fields;
    private final Problems problems;

    private FieldReader(String path, Map<String, JsonNode> fields, Problems problems) {
        this.path = path;
        this.fields = fields;
        this.problems = problems;
    }

    /**
     * The fields of {@code node}, each unknown key reported (a misspelt key silently ignored is a
     * policy silently not applied); null, and a problem, when it is not a mapping.
     */
    static @Nullable FieldReader of(@Nullable JsonNode node, String path, Set<String> known, Problems problems) {
        if (node == null || !node.isObject()) {
            problems.add(path, "must be a mapping of keys to values");
            return null;
        }
        Map<String, JsonNode> fields = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> e : node.properties()) {
            if (!known.contains(e.getKey())) {
                problems.add(join(path, e.getKey()), "unknown key '" + e.getKey()
                        + "' (known here: " + String.join(", ", known.stream().sorted().toList()) + ")");
            } else {
                fields.put(e.getKey(), e.getValue());
            }
        }
        return new FieldReader(path, fields, problems);
    }

    /** The mapping's own path. */
    String path() {
        return path;
    }

    /** The path of one of its fields. */
    String path(String key) {
        return join(path, key);
    }

    boolean has(String key) {
        return fields.containsKey(key);
    }

    /** The field's value as read, or null when absent. */
    @Nullable JsonNode node(String key) {
        return fields.get(key);
    }

    @Nullable String requiredString(String key) {
        if (!has(key)) {
            problems.add(path, "missing key '" + key + "'");
            return null;
        }
        return string(key, null);
    }

    @Nullable String string(String key, @Nullable String fallback) {
        JsonNode value = fields.get(key);
        if (value == null) {
            return fallback;
        }
        if (!value.isString() || shown(value).isEmpty()) {
            problems.add(path(key), "must be a non-empty string");
            return fallback;
        }
        return shown(value);
    }

    int integer(String key, int fallback, int min, int max) {
        JsonNode value = fields.get(key);
        if (value == null) {
            return fallback;
        }
        if (!value.isIntegralNumber() || !value.canConvertToInt()) {
            problems.add(path(key), "must be a whole number from " + min + " to " + max + ", not '" + shown(value) + "'");
            return fallback;
        }
        int number = value.intValue();
        if (number < min || number > max) {
            problems.add(path(key), number + " is out of range " + min + ".." + max);
            return fallback;
        }
        return number;
    }

    boolean bool(String key, boolean fallback) {
        JsonNode value = fields.get(key);
        if (value == null) {
            return fallback;
        }
        if (!value.isBoolean()) {
            problems.add(path(key), "must be true or false, not '" + shown(value) + "'");
            return fallback;
        }
        return value.booleanValue();
    }

    Duration duration(String key, Duration fallback) {
        JsonNode value = fields.get(key);
        if (value == null) {
            return fallback;
        }
        // Of the numbers only 0 reads as a duration: Durations.parse takes "0" and nothing else without a unit.
        Optional<Duration> duration = value.isString() || value.isIntegralNumber()
                ? Durations.parse(shown(value)) : Optional.empty();
        if (duration.isEmpty()) {
            problems.add(path(key), "'" + shown(value) + "' is not a duration such as 500ms, 1s, 2m or 1h30m");
            return fallback;
        }
        return duration.get();
    }

    /**
     * A list of strings, each turned into a value by {@code parse}; an entry it refuses (or that is
     * not text) is a problem saying it is not {@code one}. Absent: an empty list.
     */
    <T> List<T> strings(String key, String many, String one, Function<String, Optional<T>> parse) {
        List<T> result = new ArrayList<>();
        JsonNode node = fields.get(key);
        if (node == null) {
            return result;
        }
        if (!node.isArray()) {
            problems.add(path(key), "must be a list of " + many);
            return result;
        }
        for (int i = 0; i < node.size(); i++) {
            JsonNode item = node.get(i);
            Optional<T> value = item.isString() ? parse.apply(shown(item)) : Optional.empty();
            if (value.isEmpty()) {
                problems.add(path(key) + "[" + i + "]", "'" + shown(item) + "' is not " + one);
            } else {
                result.add(value.get());
            }
        }
        return result;
    }

    /** One of an enum's values, spelled as {@code configName} spells them. */
    <E extends Enum<E>> E oneOf(String key, E fallback, Class<E> type, Function<E, String> configName) {
        return oneOf(key, fallback, type, configName, name -> Optional.empty());
    }

    /**
     * One of an enum's values, spelled as {@code configName} spells them; any other name is a
     * problem listing the known ones, and {@code whyNot} may say more about a name than "unknown".
     */
    <E extends Enum<E>> E oneOf(String key, E fallback, Class<E> type, Function<E, String> configName,
                                Function<String, Optional<String>> whyNot) {
        String name = string(key, configName.apply(fallback));
        E[] values = type.getEnumConstants();
        for (E value : values) {
            if (configName.apply(value).equals(name)) {
                return value;
            }
        }
        String known = " (known: " + String.join(", ", Arrays.stream(values).map(configName).toList()) + ")";
        problems.add(path(key), whyNot.apply(name).orElse("unknown " + key + " '" + name + "'") + known);
        return fallback;
    }

    /** A value as a message quotes it: Jackson 2's text of it, "null" for null and "" for a list or mapping. */
    static String shown(JsonNode value) {
        return value.isNull() ? "null" : value.isContainer() ? "" : value.asString();
    }

    private static String join(String path, String key) {
        return path.isEmpty() ? key : path + "." + key;
    }
}

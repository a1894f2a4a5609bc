package dev.l4lb.netty.testing;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import tools.jackson.databind.JsonNode;
import tools.jackson.databind.ObjectMapper;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.ObjectNode;
import tools.jackson.dataformat.yaml.YAMLMapper;

/**
 * A seeded fuzzer for YAML files a user hands l4lb (configs, Kubernetes manifests): half the
 * mutants are edits of the text (lines dropped, doubled, swapped or re-indented, values replaced by
 * hostile scalars, characters flipped or cut), which mostly test the YAML reader and the error
 * path; half are edits of the parsed tree (a node replaced by a value of another type or a hostile
 * scalar, a key dropped or added, an element doubled), which keep the YAML well-formed and so reach
 * the validation of each field.
 */
public final class YamlMutator {
    private static final ObjectMapper YAML = YAMLMapper.builder().build();
    /** Values that have broken parsers: wrong types, edges of ranges, YAML's own features. */
    private static final List<String> HOSTILE = List.of("", "~", "null", "-1", "0", "65535", "65536", "2147483648",
            "99999999999999999999999", "1e309", "-0", ".nan", ".inf", "[]", "{}", "[1, [2, [3]]]", "{a: {b: {c: 1}}}",
            "\"\\u0000\"", "!!binary aGVsbG8=", "&a anchor", "*a", "'unterminated", "\"x", "0x1F", "0o17", "1h2m",
            "-5s", "300000000000000000s", "999999999d", "1.5s", "::", "256.0.0.1:80", "[::1]:99999", "[::1]", "::1:80",
            "10.0.0.0/33", "10.0.0.1/8", "fe80::1%eth0", "localhost:80", "true", "yes", "ClientIP", "TCP", "SCTP", "?",
            "%", "@", "`", "|", ">", "- - -", "x".repeat(5000), "\u202e\u0301", "{{}}", "!!python/object:os.system");

    private final Random random;

    public YamlMutator(long seed) {
        this.random = new Random(seed);
    }

    /** One mutant of {@code yaml}: one to three edits of its text or of its tree. */
    public String mutate(String yaml) {
        if (random.nextBoolean()) {
            String tree = mutateTree(yaml);
            if (tree != null) {
                return tree;
            }
        }
        return mutateText(yaml);
    }

    private String mutateText(String yaml) {
        List<String> lines = new ArrayList<>(List.of(yaml.split("\n", -1)));
        int edits = 1 + random.nextInt(3);
        for (int e = 0; e < edits && !lines.isEmpty(); e++) {
            int at = random.nextInt(lines.size());
            String line = lines.get(at);
            switch (random.nextInt(8)) {
                case 0 -> lines.remove(at);
                case 1 -> lines.add(at, line);
                case 2 -> {
                    int other = random.nextInt(lines.size());
                    lines.set(at, lines.get(other));
                    lines.set(other, line);
                }
                case 3 -> lines.set(at, random.nextBoolean() ? "  " + line : line.replaceFirst("^ {1,2}", ""));
                case 4 -> {
                    int colon = line.indexOf(": ");
                    lines.set(at, colon >= 0 ? line.substring(0, colon + 2) + hostile() : line + " " + hostile());
                }
                case 5 -> {
                    if (!line.isEmpty()) {
                        int i = random.nextInt(line.length());
                        char flipped = (char) (line.charAt(i) ^ (1 << random.nextInt(7)));
                        lines.set(at, line.substring(0, i) + flipped + line.substring(i + 1));
                    }
                }
                case 6 -> lines.set(at, line.substring(0, random.nextInt(line.length() + 1)));
                default -> {
                    String joined = String.join("\n", lines);
                    int cut = random.nextInt(joined.length() + 1);
                    lines = new ArrayList<>(List.of(joined.substring(0, cut).split("\n", -1)));
                }
            }
        }
        return String.join("\n", lines);
    }

    /** A mutant of the tree of each document, or null when the text is not YAML this reader takes. */
    private String mutateTree(String yaml) {
        try {
            StringBuilder out = new StringBuilder();
            for (String document : yaml.split("(?m)^---$")) {
                JsonNode root = YAML.readTree(document);
                if (root == null || !root.isContainer()) {
                    out.append(document).append("\n---\n");
                    continue;
                }
                int edits = 1 + random.nextInt(3);
                for (int e = 0; e < edits; e++) {
                    edit(root);
                }
                out.append(YAML.writeValueAsString(root)).append("\n");
            }
            return out.toString();
        } catch (Exception notYaml) {
            return null;
        }
    }

    /** Edits one node under {@code root}, picked by a random walk down from it. */
    private void edit(JsonNode root) throws Exception {
        JsonNode parent = root;
        while (true) {
            List<JsonNode> children = new ArrayList<>();
            children.addAll(parent.values());
            List<JsonNode> containers = children.stream().filter(JsonNode::isContainer).toList();
            if (containers.isEmpty() || random.nextInt(4) == 0) {
                break;
            }
            parent = containers.get(random.nextInt(containers.size()));
        }
        if (parent instanceof ObjectNode object) {
            List<String> keys = new ArrayList<>();
            object.properties().forEach(f -> keys.add(f.getKey()));
            switch (random.nextInt(4)) {
                case 0 -> {
                    if (!keys.isEmpty()) {
                        object.remove(keys.get(random.nextInt(keys.size())));
                    }
                }
                case 1 -> object.set(random.nextBoolean() ? "unknownKey" : keys.isEmpty() ? "k" : keys.get(0) + "x", value());
                default -> {
                    if (!keys.isEmpty()) {
                        object.set(keys.get(random.nextInt(keys.size())), value());
                    }
                }
            }
        } else if (parent instanceof ArrayNode array) {
            switch (random.nextInt(4)) {
                case 0 -> {
                    if (!array.isEmpty()) {
                        array.remove(random.nextInt(array.size()));
                    }
                }
                case 1 -> {
                    if (!array.isEmpty()) {
                        array.add(array.get(random.nextInt(array.size())).deepCopy());
                    }
                }
                default -> {
                    if (!array.isEmpty()) {
                        array.set(random.nextInt(array.size()), value());
                    } else {
                        array.add(value());
                    }
                }
            }
        }
    }

    /** A hostile value as YAML reads it (so "[]" is an empty list), or the string itself when it is not YAML. */
    private JsonNode value() {
        String text = hostile();
        try {
            JsonNode node = YAML.readTree(text);
            return node == null ? YAML.getNodeFactory().nullNode() : node;
        } catch (Exception notYaml) {
            return YAML.getNodeFactory().textNode(text);
        }
    }

    private String hostile() {
        return HOSTILE.get(random.nextInt(HOSTILE.size()));
    }
}

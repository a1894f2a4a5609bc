package dev.l4lb.core.config;

import java.io.IOException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;

import org.jspecify.annotations.Nullable;
import tools.jackson.core.JacksonException;
import tools.jackson.core.JsonParser;
import tools.jackson.core.TokenStreamLocation;
import tools.jackson.databind.DeserializationFeature;
import tools.jackson.databind.JsonNode;
import tools.jackson.dataformat.yaml.YAMLMapper;

import dev.l4lb.core.model.Service;

/**
 * Reads a YAML config file into the model, or reports every problem in it at once, each with the
 * file, the path inside it and what is wrong. Unknown keys are errors: a misspelt key silently
 * ignored is a policy silently not applied.
 */
public final class ConfigLoader {
    private static final Set<String> ROOT_KEYS = Set.of("services", "admin");

    /** A second document after the first is reported by the caller, with its own message. */
    private static final YAMLMapper YAML = YAMLMapper.builder(new Yaml11Factory())
            .disable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .build();
    /** Jackson 3's words for a duplicate key, and the words config errors have always used. */
    private static final Pattern DUPLICATE_KEY = Pattern.compile("Duplicate Object property \"(.*)\"");

    private final String file;
    private final Problems problems;
    private final AddressReader addresses;
    private final Listeners listeners;

    private ConfigLoader(String file) {
        this.file = file;
        this.problems = new Problems(file);
        this.addresses = new AddressReader(problems);
        this.listeners = new Listeners(problems, addresses);
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
        JsonNode root = tree(yaml);
        if (root == null || root.isMissingNode() || root.isNull()) {
            throw new ConfigException(List.of(new ConfigProblem(file, "", "the file is empty: it needs a 'services' list")));
        }
        FieldReader fields = FieldReader.of(root, "", ROOT_KEYS, problems);
        List<Service> services = new ArrayList<>();
        AdminConfig admin = AdminConfig.defaults();
        if (fields != null) {
            JsonNode list = fields.node("services");
            if (list == null) {
                problems.add("", "missing key 'services'");
            } else {
                PortReader ports = new PortReader(problems, listeners, new EndpointReader(problems, addresses));
                services = new ServiceReader(problems, ports).read(list);
            }
            if (fields.has("admin")) {
                admin = new AdminReader(problems, addresses).read(fields.node("admin"));
            }
        }
        if (problems.count() == 0) {
            listeners.checkNoLoops(services); // indexes of the model match the file's only when nothing was dropped
            listeners.checkSharedListeners(services);
        }
        if (problems.count() > 0) {
            throw new ConfigException(problems.list());
        }
        return new BalancerConfig(services, admin);
    }

    /** The one YAML document of the text; a second one, or text that is not YAML, is the one problem reported. */
    private JsonNode tree(String yaml) throws ConfigException {
        try (JsonParser parser = YAML.createParser(yaml)) {
            JsonNode root = YAML.readTree(parser);
            if (parser.nextToken() != null) {
                throw new ConfigException(List.of(new ConfigProblem(file, "line " + parser.currentLocation().getLineNr(),
                        "a second YAML document ('---'): put every service in the one document")));
            }
            return root;
        } catch (JacksonException e) {
            TokenStreamLocation at = e.getLocation();
            String where = at == null ? "" : "line " + at.getLineNr() + ", column " + at.getColumnNr();
            throw new ConfigException(List.of(new ConfigProblem(file, where, "not valid YAML: "
                    + ConfigProblem.yamlMessage(jackson2Words(e.getOriginalMessage())))));
        }
    }

    private static @Nullable String jackson2Words(@Nullable String message) {
        return message == null ? null : DUPLICATE_KEY.matcher(message).replaceFirst("Duplicate field '$1'");
    }
}

package dev.l4lb.core.config;

import java.io.CharArrayReader;
import java.io.Reader;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;

import org.jspecify.annotations.Nullable;
import org.snakeyaml.engine.v2.api.ConstructNode;
import org.snakeyaml.engine.v2.api.LoadSettings;
import org.snakeyaml.engine.v2.events.ScalarEvent;
import org.snakeyaml.engine.v2.nodes.Tag;
import org.snakeyaml.engine.v2.resolver.ScalarResolver;
import org.snakeyaml.engine.v2.schema.Schema;

import tools.jackson.core.JsonToken;
import tools.jackson.core.ObjectReadContext;
import tools.jackson.core.StreamReadFeature;
import tools.jackson.core.io.IOContext;
import tools.jackson.dataformat.yaml.YAMLFactory;
import tools.jackson.dataformat.yaml.YAMLParser;
import tools.jackson.dataformat.yaml.YAMLReadFeature;

/**
 * Jackson 3's YAML factory reading plain scalars by YAML 1.1's rules, as config files have always
 * been read. Jackson 3 reads YAML 1.2, where {@code yes}, {@code on}, {@code 0x1F}, {@code +5},
 * {@code 1_000} and {@code ~} are strings: a config that worked would stop working, or read
 * differently, for a change of library alone. The patterns are SnakeYAML's YAML 1.1 resolver's.
 * Duplicate keys are errors: the last one silently winning would hide a typo. Only parsers over
 * text (a String or a Reader, all {@link ConfigLoader} makes) get the YAML 1.1 booleans.
 */
final class Yaml11Factory extends YAMLFactory {
    private static final long serialVersionUID = 1L;

    private static final Pattern BOOL = Pattern.compile("yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF");
    private static final Pattern INT = Pattern.compile("[-+]?0b_*[0-1][0-1_]*|[-+]?0_*[0-7][0-7_]*|[-+]?(?:0|[1-9][0-9_]*)"
            + "|[-+]?0x_*[0-9a-fA-F][0-9a-fA-F_]*|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+");
    private static final Pattern FLOAT = Pattern.compile("[-+]?(?:[0-9][0-9_]*)\\.[0-9_]*(?:[eE][-+]?[0-9]+)?"
            + "|[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)|[-+]?\\.[0-9_]+(?:[eE][-+]?[0-9]+)?"
            + "|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\\.[0-9_]*|[-+]?\\.(?:inf|Inf|INF)|\\.(?:nan|NaN|NAN)");
    private static final Pattern NOT_A_NUMBER = Pattern.compile("[-+]?\\.(?:inf|Inf|INF)|\\.(?:nan|NaN|NAN)");
    private static final Pattern NULL = Pattern.compile("~|null|Null|NULL| ");
    /** SnakeYAML tries a pattern only on scalars starting with one of its characters, and up to a length. */
    private static final int SHORT = 10;
    private static final int LONG = 1024;

    private static final Schema YAML_1_1 = new Schema() {
        @Override
        public ScalarResolver getScalarResolver() {
            return Yaml11Factory::resolve;
        }

        @Override
        public Map<Tag, ConstructNode> getSchemaTagConstructors() {
            return Map.of(); // Jackson builds its own values from the tags
        }
    };

    Yaml11Factory() {
        super(YAMLFactory.builder()
                .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
                .disable(YAMLReadFeature.EMPTY_STRING_AS_NULL) // "key:" with nothing after is "", as it was
                .loadSettings(LoadSettings.builder().setSchema(YAML_1_1).build()));
    }

    /** Timestamps, merge keys and the rest YAML 1.1 knows come out as strings either way. */
    private static Tag resolve(String value, Boolean plain) {
        if (!plain) {
            return Tag.STR;
        }
        if (value.isEmpty()) {
            return Tag.NULL;
        }
        char first = value.charAt(0);
        int length = value.length();
        if ("yYnNtTfFoO".indexOf(first) >= 0 && length <= SHORT && BOOL.matcher(value).matches()) {
            return Tag.BOOL;
        }
        if ("-+0123456789".indexOf(first) >= 0 && length <= LONG && INT.matcher(value).matches()) {
            return Tag.INT;
        }
        if ("-+0123456789.".indexOf(first) >= 0 && length <= LONG && FLOAT.matcher(value).matches()) {
            return Tag.FLOAT;
        }
        if (length <= SHORT && NULL.matcher(value).matches()) {
            return Tag.NULL;
        }
        return Tag.STR;
    }

    @Override
    protected YAMLParser _createParser(ObjectReadContext context, IOContext io, Reader reader) {
        return new Parser(context, io, this, reader);
    }

    @Override
    protected YAMLParser _createParser(ObjectReadContext context, IOContext io, char[] text, int offset, int length,
                                       boolean recyclable) {
        return new Parser(context, io, this, new CharArrayReader(text, offset, length));
    }

    /**
     * Jackson 3 takes only true and false as booleans, YAML 1.1 also yes, no, on and off; and it
     * reads .inf and .nan, which Jackson 2 refused as not numbers at all.
     */
    private static final class Parser extends YAMLParser {
        Parser(ObjectReadContext context, IOContext io, Yaml11Factory factory, Reader reader) {
            super(context, io, factory._getBufferRecycler(), context.getStreamReadFeatures(factory._streamReadFeatures),
                    context.getFormatReadFeatures(factory._formatReadFeatures), factory._loadSettings, reader);
        }

        @Override
        protected JsonToken _decodeScalar(ScalarEvent scalar) {
            JsonToken token = super._decodeScalar(scalar);
            if (token == JsonToken.VALUE_NUMBER_FLOAT && NOT_A_NUMBER.matcher(_textValue).matches()) {
                throw _constructReadException("Malformed numeric value '" + _textValue + "'");
            }
            return token;
        }

        @Override
        protected @Nullable Boolean _matchYAMLBoolean(String value, int length) {
            // The resolver let through only the spellings BOOL lists.
            return switch (value.toLowerCase(Locale.ROOT)) {
                case "true", "yes", "on" -> Boolean.TRUE;
                case "false", "no", "off" -> Boolean.FALSE;
                default -> null;
            };
        }
    }
}

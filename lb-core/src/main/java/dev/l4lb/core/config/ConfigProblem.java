package dev.l4lb.core.config;

import java.util.ArrayList;
import java.util.List;

import org.jspecify.annotations.Nullable;

/**
 * One thing wrong with a config file.
 *
 * @param file    the file as the user named it
 * @param path    where in the file, e.g. {@code services[1].ports[0].endpoints[2].port}; empty for the whole file
 * @param message what is wrong, in words a user can act on
 */
public record ConfigProblem(String file, String path, String message) {

    /** One line each, however the message came (a parser's may span several): problems are listed a line apiece. */
    public ConfigProblem {
        message = message == null ? "" : message.strip().replaceAll("\\s*\\R\\s*", "; ");
    }

    /**
     * A YAML parser's message (SnakeYAML's spans lines, with an excerpt of the file and a caret
     * under the fault) as the words alone, on one line; the caller gives the line number.
     */
    public static String yamlMessage(@Nullable String message) {
        if (message == null) {
            return "";
        }
        List<String> lines = message.lines().map(String::strip).toList();
        List<String> words = new ArrayList<>();
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i);
            if (line.startsWith("in 'reader'") || line.startsWith("in reader")) {
                // "in 'reader', line 2, column 11:", then the line quoted and a caret under the fault
                if (i + 2 < lines.size() && lines.get(i + 2).matches("\\^+")) {
                    i += 2;
                }
                continue;
            }
            if (!line.isEmpty() && !line.matches("\\^+")) {
                words.add(line);
            }
        }
        return words.isEmpty() ? message.strip() : String.join("; ", words);
    }

    @Override
    public String toString() {
        return path.isEmpty() ? file + ": " + message : file + ": " + path + ": " + message;
    }
}

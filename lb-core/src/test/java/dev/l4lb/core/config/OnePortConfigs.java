package dev.l4lb.core.config;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;

/**
 * Configs of one service with one port, as the tests of a port's keys write them, and the
 * problems a config is rejected with.
 */
final class OnePortConfigs {
    private OnePortConfigs() {
    }

    /** One service {@code echo} with one port: {@code lines} in block style, each may span several lines. */
    static String onePort(String... lines) {
        StringBuilder yaml = new StringBuilder("services:\n  - name: echo\n    ports:\n");
        for (int i = 0; i < lines.length; i++) {
            String indented = lines[i].strip().replace("\n", "\n        ");
            yaml.append(i == 0 ? "      - " : "        ").append(indented).append('\n');
        }
        return yaml.toString();
    }

    /** {@code yaml}, read as {@code file}, is rejected with one problem, at {@code path}, whose message has {@code fragment}. */
    static void assertOneProblem(String file, String yaml, String path, String fragment) {
        List<ConfigProblem> problems = problems(file, yaml);
        assertThat(problems).as(problems.toString()).singleElement().satisfies(p -> {
            assertThat(p.file()).isEqualTo(file);
            assertThat(p.path()).isEqualTo(path);
            assertThat(p.message()).contains(fragment);
        });
    }

    /** What {@code yaml}, read as {@code file}, is rejected with; fails when it is accepted. */
    static List<ConfigProblem> problems(String file, String yaml) {
        try {
            BalancerConfig config = ConfigLoader.parse(file, yaml);
            throw new AssertionError("expected the config to be rejected, got " + config);
        } catch (ConfigException e) {
            return e.problems();
        }
    }
}

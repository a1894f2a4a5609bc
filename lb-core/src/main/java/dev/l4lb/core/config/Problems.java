package dev.l4lb.core.config;

import java.util.ArrayList;
import java.util.List;

/** The problems found so far in one config file: readers add to it, and the file is refused if any. */
final class Problems {
    private final String file;
    private final List<ConfigProblem> found = new ArrayList<>();

    Problems(String file) {
        this.file = file;
    }

    void add(String path, String message) {
        found.add(new ConfigProblem(file, path, message));
    }

    /** How many so far: a reader compares before and after to know whether what it read is whole. */
    int count() {
        return found.size();
    }

    List<ConfigProblem> list() {
        return List.copyOf(found);
    }
}

package dev.l4lb.core.config;

/**
 * One thing wrong with a config file.
 *
 * @param file    the file as the user named it
 * @param path    where in the file, e.g. {@code services[1].ports[0].endpoints[2].port}; empty for the whole file
 * @param message what is wrong, in words a user can act on
 */
public record ConfigProblem(String file, String path, String message) {

    @Override
    public String toString() {
        return path.isEmpty() ? file + ": " + message : file + ": " + path + ": " + message;
    }
}

package dev.l4lb.netty.cli;

import dev.l4lb.core.config.ConfigException;
import dev.l4lb.core.config.ConfigProblem;
import dev.l4lb.netty.transport.BindFailure;

/** How commands tell the user about a failure that stops them: one line each, on stderr. */
final class Reports {
    private Reports() {
    }

    static int configError(ConfigException e) {
        System.err.println("l4lb: the config has " + e.problems().size() + " problem(s):");
        for (ConfigProblem problem : e.problems()) {
            System.err.println("  " + problem);
        }
        return ExitCodes.CONFIG_ERROR;
    }

    static int usageError(IllegalArgumentException e) {
        System.err.println("l4lb: " + e.getMessage());
        return ExitCodes.CONFIG_ERROR;
    }

    static int startFailure(RuntimeException e) {
        System.err.println("l4lb: cannot start: " + rootCause(e).getMessage());
        return ExitCodes.RUNTIME_FAILURE;
    }

    /** The innermost cause: the words of the failure itself, not of its wrappers. */
    static Throwable rootCause(Throwable e) {
        Throwable root = e;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        return root;
    }

    static int bindFailure(BindFailure e) {
        System.err.println("l4lb: " + e.getMessage());
        return ExitCodes.RUNTIME_FAILURE;
    }
}

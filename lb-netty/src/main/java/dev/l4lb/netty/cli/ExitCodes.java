package dev.l4lb.netty.cli;

/** Exit statuses of the lb command. */
final class ExitCodes {
    static final int OK = 0;
    /** A listener could not be bound, or another failure at run time. */
    static final int RUNTIME_FAILURE = 1;
    /** The config file (or a command-line value) is invalid. */
    static final int CONFIG_ERROR = 2;

    private ExitCodes() {
    }
}

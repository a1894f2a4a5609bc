package dev.l4lb.netty.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** What this test process may do on the machine. */
public final class Privileges {
    private Privileges() {
    }

    /** Whether the process runs as root: network namespaces and iptables need it. */
    public static boolean isRoot() {
        try {
            return ((Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid")) == 0;
        } catch (IOException | UnsupportedOperationException e) {
            return false;
        }
    }
}

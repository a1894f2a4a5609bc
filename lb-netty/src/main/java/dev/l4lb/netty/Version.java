package dev.l4lb.netty;

/** This build's version, for logs, the admin API and {@code lb --version}. */
public final class Version {
    private Version() {
    }

    /** The version from the jar's manifest, or "development" when run from classes. */
    public static String current() {
        String version = Version.class.getPackage().getImplementationVersion();
        return version == null ? "development" : version;
    }
}

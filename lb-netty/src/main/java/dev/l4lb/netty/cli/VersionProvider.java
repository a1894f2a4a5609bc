package dev.l4lb.netty.cli;

import picocli.CommandLine;

import dev.l4lb.netty.Version;

/** The version from the jar's manifest, or "development" when run from classes. */
final class VersionProvider implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
        return new String[] {"l4lb " + Version.current()};
    }
}

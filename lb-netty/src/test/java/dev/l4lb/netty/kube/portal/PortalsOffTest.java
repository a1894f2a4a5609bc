package dev.l4lb.netty.kube.portal;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Optional;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.l4lb.core.kube.Portal;
import dev.l4lb.core.model.Addresses;
import dev.l4lb.core.model.Cidr;
import dev.l4lb.core.model.Protocol;
import dev.l4lb.netty.testing.Privileges;

/** Without iptables, or without the right to use it, portals are off: said once, and syncs are harmless no-ops. */
class PortalsOffTest {
    private static final Portal WEB = new Portal("default/web:http", Protocol.TCP,
            Addresses.parseIp("10.96.0.20").orElseThrow(), 80, 40001);

    @Test
    void withoutIptablesTheRedirectPortalsAreOffAndSyncReportsIt(@TempDir Path empty) {
        NetworkCommands nowhere = new NetworkCommands(List.of(empty), NetworkCommands.DEFAULT_TIMEOUT);

        try (IptablesPortals portals = IptablesPortals.open(
                new IptablesPortals.Targets(any(), Optional.empty()), nowhere)) {
            assertThat(portals.enabled()).isFalse();
            assertThat(portals.offReason()).hasValue("iptables not found (looked in " + empty + ")");

            PortalSync sync = portals.sync(List.of(WEB));
            assertThat(sync.outcome()).isEqualTo(PortalSync.Outcome.OFF);
            assertThat(sync.errors()).containsExactly("iptables not found (looked in " + empty + ")");
        }
    }

    @Test
    void withoutIptablesRestoreTheyAreOffToo(@TempDir Path dir) throws Exception {
        // iptables alone is not enough: every sync is one iptables-restore transaction.
        executable(dir.resolve("iptables"));
        NetworkCommands onlyIptables = new NetworkCommands(List.of(dir), NetworkCommands.DEFAULT_TIMEOUT);

        try (IptablesPortals portals = IptablesPortals.open(new IptablesPortals.Targets(any(), Optional.empty()), onlyIptables)) {
            assertThat(portals.offReason()).hasValueSatisfying(why -> assertThat(why).startsWith("iptables-restore not found"));
        }
    }

    @Test
    void withoutIptablesTheTproxyPortalsAreOff(@TempDir Path dir) throws Exception {
        executable(dir.resolve("ip"));
        NetworkCommands onlyIp = new NetworkCommands(List.of(dir), NetworkCommands.DEFAULT_TIMEOUT);

        try (TproxyPortals portals = TproxyPortals.open(List.of(Cidr.parse("10.96.0.0/12").orElseThrow()), List.of(),
                new InetSocketAddress(InetAddress.getLoopbackAddress(), 15001), onlyIp)) {
            assertThat(portals.enabled()).isFalse();
            assertThat(portals.offReason()).hasValue("IPv4: iptables not found (looked in " + dir + ")");
            assertThat(portals.sync(List.of()).outcome()).isEqualTo(PortalSync.Outcome.OFF);
        }
    }

    @Test
    void withoutTheRightToChangeRulesTheyAreOffWithIptablesOwnReason() {
        Assumptions.assumeFalse(Privileges.isRoot(), "as root iptables is permitted; this is for an ordinary user");
        NetworkCommands system = NetworkCommands.system();
        Assumptions.assumeTrue(system.find("iptables").isPresent() && system.find("iptables-restore").isPresent(),
                "iptables is not installed here");

        try (IptablesPortals portals = IptablesPortals.open(new IptablesPortals.Targets(any(), Optional.empty()), system)) {
            assertThat(portals.offReason()).hasValueSatisfying(why -> assertThat(why).startsWith("iptables failed (exit"));
            assertThat(portals.sync(List.of(WEB)).applied()).isFalse();
        }
    }

    /** A file that passes for the tool when looked up; it is never run, as the other tool is missing. */
    private static void executable(Path file) throws Exception {
        Files.createFile(file, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
    }

    private static InetAddress any() {
        return Addresses.parseIp("0.0.0.0").orElseThrow();
    }
}

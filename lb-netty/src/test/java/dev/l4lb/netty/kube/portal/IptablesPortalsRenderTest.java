package dev.l4lb.netty.kube.portal;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.util.List;
import java.util.Optional;

import org.junit.jupiter.api.Test;

import dev.l4lb.core.kube.Portal;
import dev.l4lb.core.model.Addresses;
import dev.l4lb.core.model.Protocol;

/** The iptables-restore text of the REDIRECT portals, in kube-proxy userspace mode's layout; no root needed. */
class IptablesPortalsRenderTest {
    private static final Portal WEB = new Portal("default/web:http", Protocol.TCP, ip("10.96.0.20"), 80, 40001);
    private static final Portal DNS = new Portal("kube-system/kube-dns:dns", Protocol.UDP, ip("10.96.0.10"), 53, 40002);
    private static final Portal WEB6 = new Portal("default/web:http", Protocol.TCP, ip("fd00:10:96::20"), 80, 40001);

    private static final IptablesPortals.Targets EVERY_INTERFACE =
            new IptablesPortals.Targets(ip("0.0.0.0"), Optional.empty());

    @Test
    void tcpAndUdpPortalsToAListenerOnEveryInterfaceAreRedirectedInBothChains() {
        String text = IptablesPortals.restoreText(IpFamily.IPV4, List.of(WEB, DNS), EVERY_INTERFACE, true);

        assertThat(text).isEqualTo("""
                *nat
                :KUBE-PORTALS-CONTAINER - [0:0]
                :KUBE-PORTALS-HOST - [0:0]
                -A KUBE-PORTALS-CONTAINER -m comment --comment "default/web:http" -p tcp -m tcp --dport 80 -d 10.96.0.20/32 -j REDIRECT --to-ports 40001
                -A KUBE-PORTALS-CONTAINER -m comment --comment "kube-system/kube-dns:dns" -p udp -m udp --dport 53 -d 10.96.0.10/32 -j REDIRECT --to-ports 40002
                -A KUBE-PORTALS-HOST -m comment --comment "default/web:http" -p tcp -m tcp --dport 80 -d 10.96.0.20/32 -j REDIRECT --to-ports 40001
                -A KUBE-PORTALS-HOST -m comment --comment "kube-system/kube-dns:dns" -p udp -m udp --dport 53 -d 10.96.0.10/32 -j REDIRECT --to-ports 40002
                -I PREROUTING -m comment --comment "l4lb portals: handle ClusterIPs" -j KUBE-PORTALS-CONTAINER
                -I OUTPUT -m comment --comment "l4lb portals: handle ClusterIPs" -j KUBE-PORTALS-HOST
                COMMIT
                """);
    }

    @Test
    void withTheNodeAddressTheNodesOwnTrafficIsDnatedToItAsKubeProxyDid() {
        IptablesPortals.Targets targets = new IptablesPortals.Targets(ip("0.0.0.0"), Optional.of(ip("192.168.1.5")));

        String text = IptablesPortals.restoreText(IpFamily.IPV4, List.of(WEB, DNS), targets, false);

        assertThat(text).isEqualTo("""
                *nat
                :KUBE-PORTALS-CONTAINER - [0:0]
                :KUBE-PORTALS-HOST - [0:0]
                -A KUBE-PORTALS-CONTAINER -m comment --comment "default/web:http" -p tcp -m tcp --dport 80 -d 10.96.0.20/32 -j REDIRECT --to-ports 40001
                -A KUBE-PORTALS-CONTAINER -m comment --comment "kube-system/kube-dns:dns" -p udp -m udp --dport 53 -d 10.96.0.10/32 -j REDIRECT --to-ports 40002
                -A KUBE-PORTALS-HOST -m comment --comment "default/web:http" -p tcp -m tcp --dport 80 -d 10.96.0.20/32 -j DNAT --to-destination 192.168.1.5:40001
                -A KUBE-PORTALS-HOST -m comment --comment "kube-system/kube-dns:dns" -p udp -m udp --dport 53 -d 10.96.0.10/32 -j DNAT --to-destination 192.168.1.5:40002
                COMMIT
                """);
    }

    @Test
    void aListenerOnOneAddressIsReachedByDnatFromEverywhere() {
        IptablesPortals.Targets targets = new IptablesPortals.Targets(ip("192.168.1.5"), Optional.empty());

        assertThat(IptablesPortals.rules(IpFamily.IPV4, List.of(WEB), targets)).containsExactly(
                "-A KUBE-PORTALS-CONTAINER -m comment --comment \"default/web:http\" -p tcp -m tcp --dport 80 -d 10.96.0.20/32"
                        + " -j DNAT --to-destination 192.168.1.5:40001",
                "-A KUBE-PORTALS-HOST -m comment --comment \"default/web:http\" -p tcp -m tcp --dport 80 -d 10.96.0.20/32"
                        + " -j DNAT --to-destination 192.168.1.5:40001");
    }

    @Test
    void aLoopbackListenerGetsTheNodesOwnTrafficOnly() {
        // The kernel drops traffic from other hosts that is steered to 127.0.0.1 (a martian), so
        // only the OUTPUT rule, whose REDIRECT goes to the loopback address, can reach it.
        IptablesPortals.Targets targets = new IptablesPortals.Targets(ip("127.0.0.1"), Optional.empty());

        assertThat(IptablesPortals.rules(IpFamily.IPV4, List.of(WEB), targets)).containsExactly(
                "-A KUBE-PORTALS-HOST -m comment --comment \"default/web:http\" -p tcp -m tcp --dport 80 -d 10.96.0.20/32"
                        + " -j REDIRECT --to-ports 40001");
    }

    @Test
    void noPortalsStillDeclaresBothChainsSoTheOldRulesAreFlushed() {
        assertThat(IptablesPortals.restoreText(IpFamily.IPV4, List.of(), EVERY_INTERFACE, false)).isEqualTo("""
                *nat
                :KUBE-PORTALS-CONTAINER - [0:0]
                :KUBE-PORTALS-HOST - [0:0]
                COMMIT
                """);
    }

    @Test
    void eachFamilyGetsOnlyItsOwnPortalsWithItsOwnHostPrefix() {
        List<Portal> mixed = List.of(WEB, WEB6, DNS);

        String v4 = IptablesPortals.restoreText(IpFamily.IPV4, mixed, EVERY_INTERFACE, false);
        String v6 = IptablesPortals.restoreText(IpFamily.IPV6, mixed, EVERY_INTERFACE, false);

        assertThat(v4).contains("-d 10.96.0.20/32", "-d 10.96.0.10/32").doesNotContain("fd00");
        assertThat(v6).isEqualTo("""
                *nat
                :KUBE-PORTALS-CONTAINER - [0:0]
                :KUBE-PORTALS-HOST - [0:0]
                -A KUBE-PORTALS-CONTAINER -m comment --comment "default/web:http" -p tcp -m tcp --dport 80 -d fd00:10:96::20/128 -j REDIRECT --to-ports 40001
                -A KUBE-PORTALS-HOST -m comment --comment "default/web:http" -p tcp -m tcp --dport 80 -d fd00:10:96::20/128 -j REDIRECT --to-ports 40001
                COMMIT
                """);
    }

    @Test
    void ipv6DnatPutsTheAddressInBracketsAndAnIpv4ListenerGetsNoIpv6Rules() {
        IptablesPortals.Targets v6Listener = new IptablesPortals.Targets(ip("fd00::5"), Optional.empty());
        IptablesPortals.Targets v4Listener = new IptablesPortals.Targets(ip("192.168.1.5"), Optional.empty());

        assertThat(IptablesPortals.rules(IpFamily.IPV6, List.of(WEB6), v6Listener))
                .allSatisfy(rule -> assertThat(rule).endsWith("-j DNAT --to-destination [fd00::5]:40001"))
                .hasSize(2);
        assertThat(IptablesPortals.rules(IpFamily.IPV6, List.of(WEB6), v4Listener)).isEmpty();
    }

    @Test
    void aCommentCannotBreakOutOfItsQuotes() {
        Portal odd = new Portal("ns/we\"ird\\name:p\n", Protocol.TCP, ip("10.96.0.30"), 8080, 40003);

        // One rule per chain, so that allSatisfy cannot pass on an empty list.
        assertThat(IptablesPortals.rules(IpFamily.IPV4, List.of(odd), EVERY_INTERFACE))
                .hasSize(2)
                .allSatisfy(rule -> assertThat(rule).contains("--comment \"ns/weirdname:p\" -p tcp"));
    }

    private static InetAddress ip(String text) {
        return Addresses.parseIp(text).orElseThrow();
    }
}

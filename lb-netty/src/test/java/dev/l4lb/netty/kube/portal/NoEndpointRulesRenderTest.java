package dev.l4lb.netty.kube.portal;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetSocketAddress;
import java.util.List;
import java.util.Optional;
import java.util.Set;

import org.junit.jupiter.api.Test;

import dev.l4lb.core.kube.NoEndpointPort;
import dev.l4lb.core.model.Addresses;
import dev.l4lb.core.model.Cidr;
import dev.l4lb.core.model.Protocol;
import dev.l4lb.core.model.ShortCircuit;

/** The filter rules that refuse ports without endpoints, as text; no root needed. */
class NoEndpointRulesRenderTest {
    private static final InetSocketAddress CLUSTER_IP = address("10.96.0.10:80");
    private static final InetSocketAddress CLUSTER_IP6 = address("[fd00:96::10]:80");
    private static final InetSocketAddress NODE_PORTS = address("0.0.0.0:30080");
    private static final InetSocketAddress EXTERNAL_IP = address("192.0.2.7:80");

    @Test
    void aServiceWithoutEndpointsIsResetOnItsClusterIpByOriginalDestinationAndOnItsNodePort() {
        NoEndpointPort port = new NoEndpointPort("shop/web:http", Protocol.TCP, List.of(NODE_PORTS, EXTERNAL_IP),
                List.of(CLUSTER_IP, CLUSTER_IP6), NoEndpointPort.Refusal.REJECT, Optional.empty());

        assertThat(NoEndpointRules.restoreText(IpFamily.IPV4, List.of(port), true)).isEqualTo("""
                *filter
                :L4LB-NO-ENDPOINTS - [0:0]
                -A L4LB-NO-ENDPOINTS -m conntrack ! --ctstate NEW -j RETURN
                -A L4LB-NO-ENDPOINTS -p tcp -m conntrack --ctorigdst 10.96.0.10 --ctorigdstport 80 -m comment --comment "shop/web:http has no endpoints" -j REJECT --reject-with tcp-reset
                -A L4LB-NO-ENDPOINTS -m addrtype --dst-type LOCAL -p tcp -m tcp --dport 30080 -m comment --comment "shop/web:http has no endpoints" -j REJECT --reject-with tcp-reset
                -A L4LB-NO-ENDPOINTS -d 192.0.2.7/32 -p tcp -m tcp --dport 80 -m comment --comment "shop/web:http has no endpoints" -j REJECT --reject-with tcp-reset
                -I INPUT -m comment --comment "l4lb: refuse services without (local) endpoints before the handshake" -j L4LB-NO-ENDPOINTS
                COMMIT
                """);
        // IPv6 gets its ClusterIP only: an IPv4 wildcard or address takes no IPv6 connections.
        assertThat(NoEndpointRules.rules(IpFamily.IPV6, List.of(port))).containsExactly(
                "-A L4LB-NO-ENDPOINTS -m conntrack ! --ctstate NEW -j RETURN",
                "-A L4LB-NO-ENDPOINTS -p tcp -m conntrack --ctorigdst fd00:96::10 --ctorigdstport 80"
                        + " -m comment --comment \"shop/web:http has no endpoints\" -j REJECT --reject-with tcp-reset");
    }

    @Test
    void aLocalPortWithoutALocalEndpointIsDroppedExceptForTheNodeAndThePodsOfItsFamily() {
        ShortCircuit inside = new ShortCircuit("http", Set.of(), List.of(cidr("10.244.0.0/16"), cidr("fd00:244::/64")));
        NoEndpointPort port = new NoEndpointPort("shop/web:http/external", Protocol.TCP, List.of(NODE_PORTS), List.of(),
                NoEndpointPort.Refusal.DROP, Optional.of(inside));

        String rule = "-A L4LB-NO-ENDPOINTS -m addrtype --dst-type LOCAL -p tcp -m tcp --dport 30080"
                + " -m comment --comment \"shop/web:http/external has no local endpoints\"";
        assertThat(NoEndpointRules.rules(IpFamily.IPV4, List.of(port))).containsExactly(
                "-A L4LB-NO-ENDPOINTS -m conntrack ! --ctstate NEW -j RETURN",
                rule + " -m addrtype --src-type LOCAL -j RETURN",
                rule + " -s 10.244.0.0/16 -j RETURN",
                rule + " -j DROP");
    }

    @Test
    void withoutSparedClientsEveryClientIsDroppedAndUdpIsRejectedWithIcmpOfItsFamily() {
        NoEndpointPort dropped = new NoEndpointPort("shop/web:http", Protocol.TCP, List.of(), List.of(CLUSTER_IP),
                NoEndpointPort.Refusal.DROP, Optional.empty());
        NoEndpointPort udp = new NoEndpointPort("kube-system/dns:dns", Protocol.UDP, List.of(address("[::]:30053")),
                List.of(), NoEndpointPort.Refusal.REJECT, Optional.empty());

        assertThat(NoEndpointRules.rules(IpFamily.IPV4, List.of(dropped, udp))).containsExactly(
                "-A L4LB-NO-ENDPOINTS -m conntrack ! --ctstate NEW -j RETURN",
                "-A L4LB-NO-ENDPOINTS -p tcp -m conntrack --ctorigdst 10.96.0.10 --ctorigdstport 80"
                        + " -m comment --comment \"shop/web:http has no local endpoints\" -j DROP",
                // The IPv6 wildcard takes IPv4 connections too.
                "-A L4LB-NO-ENDPOINTS -m addrtype --dst-type LOCAL -p udp -m udp --dport 30053"
                        + " -m comment --comment \"kube-system/dns:dns has no endpoints\" -j REJECT --reject-with icmp-port-unreachable");
        assertThat(NoEndpointRules.rules(IpFamily.IPV6, List.of(dropped, udp))).last().asString()
                .endsWith("-j REJECT --reject-with icmp6-port-unreachable");
    }

    @Test
    void nothingRefusedIsAnEmptyChainThatCostsAPacketNothing() {
        assertThat(NoEndpointRules.rules(IpFamily.IPV4, List.of())).isEmpty();
        assertThat(NoEndpointRules.restoreText(IpFamily.IPV4, List.of(), false)).isEqualTo("""
                *filter
                :L4LB-NO-ENDPOINTS - [0:0]
                COMMIT
                """);
    }

    private static InetSocketAddress address(String text) {
        return Addresses.parseHostPort(text).orElseThrow();
    }

    private static Cidr cidr(String text) {
        return Cidr.parse(text).orElseThrow();
    }
}

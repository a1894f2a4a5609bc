package dev.l4lb.netty.kube.portal;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetSocketAddress;
import java.util.List;

import org.junit.jupiter.api.Test;

import dev.l4lb.core.model.Addresses;
import dev.l4lb.core.model.Cidr;

/** The TPROXY portals' constant rule set and policy routing, as text; no root needed. */
class TproxyPortalsRenderTest {
    private static final InetSocketAddress LISTENER = Addresses.parseHostPort("127.0.0.1:15001").orElseThrow();

    @Test
    void theServiceCidrGoesToTheTransparentListenerAndTheNodesOwnTrafficIsMarked() {
        String text = TproxyPortals.restoreText(IpFamily.IPV4, List.of(cidr("10.96.0.0/12")), List.of(), LISTENER, true);

        assertThat(text).isEqualTo("""
                *mangle
                :L4LB-TPROXY - [0:0]
                :L4LB-TPROXY-OUTPUT - [0:0]
                -A L4LB-TPROXY -d 10.96.0.0/12 -p tcp -j TPROXY --on-ip 127.0.0.1 --on-port 15001 --tproxy-mark 0x2000/0x2000
                -A L4LB-TPROXY-OUTPUT -d 10.96.0.0/12 -p tcp -j MARK --set-mark 0x2000/0x2000
                -I PREROUTING -m comment --comment "l4lb portals: service CIDRs to the transparent listener" -j L4LB-TPROXY
                -I OUTPUT -m comment --comment "l4lb portals: the node's own service traffic through lo" -j L4LB-TPROXY-OUTPUT
                COMMIT
                """);
    }

    @Test
    void extraAddressesAreDivertedOnTheirPortOnlyAndTheRuleSetDoesNotGrowWithServices() {
        List<String> rules = TproxyPortals.rules(IpFamily.IPV4, List.of(cidr("10.96.0.1/12")),
                List.of(Addresses.parseHostPort("192.168.1.5:443").orElseThrow()), LISTENER);

        assertThat(rules).containsExactly(
                "-A L4LB-TPROXY -d 10.96.0.0/12 -p tcp -j TPROXY --on-ip 127.0.0.1 --on-port 15001 --tproxy-mark 0x2000/0x2000",
                "-A L4LB-TPROXY -d 192.168.1.5/32 -p tcp -m tcp --dport 443 -j TPROXY --on-ip 127.0.0.1 --on-port 15001"
                        + " --tproxy-mark 0x2000/0x2000",
                "-A L4LB-TPROXY-OUTPUT -d 10.96.0.0/12 -p tcp -j MARK --set-mark 0x2000/0x2000",
                "-A L4LB-TPROXY-OUTPUT -d 192.168.1.5/32 -p tcp -m tcp --dport 443 -j MARK --set-mark 0x2000/0x2000");
    }

    @Test
    void aWildcardListenerLeavesTheAddressToTheKernelAndOnlyTheIpv6WildcardTakesIpv6() {
        InetSocketAddress v4Any = Addresses.parseHostPort("0.0.0.0:15001").orElseThrow();
        InetSocketAddress v6Any = Addresses.parseHostPort("[::]:15001").orElseThrow();
        List<Cidr> both = List.of(cidr("10.96.0.0/12"), cidr("fd00:10:96::/112"));

        assertThat(TproxyPortals.rules(IpFamily.IPV4, both, List.of(), v4Any)).first().asString()
                .isEqualTo("-A L4LB-TPROXY -d 10.96.0.0/12 -p tcp -j TPROXY --on-port 15001 --tproxy-mark 0x2000/0x2000");
        assertThat(TproxyPortals.rules(IpFamily.IPV6, both, List.of(), v4Any)).isEmpty();
        assertThat(TproxyPortals.rules(IpFamily.IPV6, both, List.of(), v6Any)).containsExactly(
                "-A L4LB-TPROXY -d fd00:10:96::/112 -p tcp -j TPROXY --on-port 15001 --tproxy-mark 0x2000/0x2000",
                "-A L4LB-TPROXY-OUTPUT -d fd00:10:96::/112 -p tcp -j MARK --set-mark 0x2000/0x2000");
    }

    @Test
    void policyRoutingSendsMarkedPacketsToTheLocalTableOfItsFamily() {
        assertThat(LocalDelivery.TPROXY.commands(IpFamily.IPV4)).containsExactly(
                List.of("-4", "rule", "add", "priority", "19508", "fwmark", "0x2000/0x2000", "lookup", "19508"),
                List.of("-4", "route", "replace", "local", "0.0.0.0/0", "dev", "lo", "table", "19508"));
        assertThat(LocalDelivery.TPROXY.commands(IpFamily.IPV6)).last()
                .isEqualTo(List.of("-6", "route", "replace", "local", "::/0", "dev", "lo", "table", "19508"));
    }

    private static Cidr cidr(String text) {
        return Cidr.parse(text).orElseThrow();
    }
}

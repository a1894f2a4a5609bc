package dev.l4lb.netty.kube.portal;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;

import org.junit.jupiter.api.Test;

import dev.l4lb.core.model.Cidr;

/** The reply path's rules as iptables-restore gets them, without root. */
class ReplyPathRenderTest {

    @Test
    void repliesFromEachPodRangeOfTheFamilyAreMarkedForLocalDelivery() {
        List<Cidr> pods = List.of(cidr("10.244.0.1/16"), cidr("fd00:244::/56"), cidr("10.245.0.0/16"));

        assertThat(ReplyPath.rules(IpFamily.IPV4, pods)).containsExactly(
                "-A L4LB-REPLIES -s 10.244.0.0/16 -p tcp -m conntrack --ctdir REPLY -m socket --transparent"
                        + " -j MARK --set-mark 0x40/0x40",
                "-A L4LB-REPLIES -s 10.245.0.0/16 -p tcp -m conntrack --ctdir REPLY -m socket --transparent"
                        + " -j MARK --set-mark 0x40/0x40");
        assertThat(ReplyPath.rules(IpFamily.IPV6, pods)).containsExactly(
                "-A L4LB-REPLIES -s fd00:244::/56 -p tcp -m conntrack --ctdir REPLY -m socket --transparent"
                        + " -j MARK --set-mark 0x40/0x40");
    }

    @Test
    void withoutPodRangesRepliesFromAnywhereAreMarked() {
        assertThat(ReplyPath.rules(IpFamily.IPV6, List.of())).containsExactly(
                "-A L4LB-REPLIES -p tcp -m conntrack --ctdir REPLY -m socket --transparent -j MARK --set-mark 0x40/0x40");
    }

    @Test
    void itsRoutingHasItsOwnMarkTableAndPriorityBesideTproxys() {
        assertThat(LocalDelivery.REPLIES.commands(IpFamily.IPV4)).containsExactly(
                List.of("-4", "rule", "add", "priority", "19509", "fwmark", "0x40/0x40", "lookup", "19509"),
                List.of("-4", "route", "replace", "local", "0.0.0.0/0", "dev", "lo", "table", "19509"));
        assertThat(LocalDelivery.REPLIES.mark() & LocalDelivery.TPROXY.mark()).isZero();
        assertThat(LocalDelivery.REPLIES.table()).isNotEqualTo(LocalDelivery.TPROXY.table());
    }

    private static Cidr cidr(String text) {
        return Cidr.parse(text).orElseThrow();
    }
}

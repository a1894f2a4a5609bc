package dev.l4lb.netty.kube;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.NodeBuilder;

/** kube-proxy's SyncNode: which Node objects leave the node eligible for load balancers' traffic. */
class NodeEligibilityTest {

    @Test
    void aNodeBeingDeletedOrTaintedForDeletionIsNotEligible() {
        assertThat(KubeProxier.eligible(null)).as("no Node object: as kube-proxy before its first node event").isTrue();
        assertThat(KubeProxier.eligible(node().build())).isTrue();
        assertThat(KubeProxier.eligible(node().editMetadata().withDeletionTimestamp("2026-11-25T00:00:00Z").endMetadata().build()))
                .isFalse();
        assertThat(KubeProxier.eligible(node().withNewSpec().addNewTaint().withKey("ToBeDeletedByClusterAutoscaler")
                .withValue("1764028800").withEffect("NoSchedule").endTaint().endSpec().build())).isFalse();
        assertThat(KubeProxier.eligible(node().withNewSpec().addNewTaint().withKey("node.kubernetes.io/unschedulable")
                .withEffect("NoSchedule").endTaint().endSpec().build())).as("cordoned only").isTrue();
    }

    private static NodeBuilder node() {
        return new NodeBuilder(new Node()).withNewMetadata().withName("node-a").endMetadata();
    }
}

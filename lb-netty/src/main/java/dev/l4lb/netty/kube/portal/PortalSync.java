package dev.l4lb.netty.kube.portal;

import java.util.List;

/**
 * What one write of the portal rules did: applied, failed with the tools' own message (the rules
 * of before stay in force), or nothing because portals are off on this node.
 *
 * @param outcome which of the three
 * @param rules   the rules in l4lb's chains after the write (0 when it failed or portals are off)
 * @param errors  why it failed, or why portals are off; empty when applied without trouble
 */
public record PortalSync(Outcome outcome, int rules, List<String> errors) {

    public PortalSync {
        errors = List.copyOf(errors);
    }

    /** The three things a write of the rules can come to. */
    public enum Outcome {
        APPLIED,
        FAILED,
        OFF
    }

    static PortalSync off(String why) {
        return new PortalSync(Outcome.OFF, 0, List.of(why));
    }

    public boolean applied() {
        return outcome == Outcome.APPLIED;
    }
}

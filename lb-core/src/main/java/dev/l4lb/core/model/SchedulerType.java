package dev.l4lb.core.model;

import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The schedulers a service port can name in its {@code scheduler:} key, spelled as ipvsadm spells them.
 * The algorithms themselves are in {@code dev.l4lb.core.sched} ({@code Schedulers} builds one for a type).
 */
public enum SchedulerType {
    RR("rr"),
    WRR("wrr"),
    LC("lc"),
    WLC("wlc"),
    SED("sed"),
    NQ("nq"),
    SH("sh"),
    MH("mh"),
    P2C("p2c"),
    RANDOM("random");

    /**
     * IPVS schedulers deliberately left out, with the reason a config error gives. {@code dh}
     * hashes the destination address, and a proxy listener sees one destination per service
     * port, so it would send every connection to one endpoint.
     */
    private static final String SINGLE_DESTINATION = " a service port has a single destination";
    private static final Map<String, String> NOT_OFFERED = Map.of(
            "dh", "dh (destination hashing) would send every connection to one endpoint:" + SINGLE_DESTINATION
                    + "; use sh or mh to hash on the client",
            "lblc", "lblc balances cache clusters by destination;" + SINGLE_DESTINATION,
            "lblcr", "lblcr balances cache clusters by destination;" + SINGLE_DESTINATION,
            "fo", "fo (weighted failover) is not offered: use weights (0 drains) or readiness",
            "ovf", "ovf (overflow) is not offered: use per-endpoint maxConnections",
            "twos", "twos is offered as p2c, the power of two random choices");

    private final String configName;

    /** Does this scheduler choose by hashing the client, so that a {@link HashKey} applies? */
    public boolean hashesClients() {
        return this == SH || this == MH;
    }
    SchedulerType(String configName) {
        this.configName = configName;
    }

    /** The name used in config files ({@code rr}). */
    public String configName() {
        return configName;
    }

    /** The type a config name denotes, if any. */
    public static Optional<SchedulerType> byName(String name) {
        return Arrays.stream(values()).filter(t -> t.configName.equals(name)).findFirst();
    }

    /** Why an IPVS scheduler name that is not offered is not, if it is one. */
    public static Optional<String> whyNotOffered(String name) {
        return Optional.ofNullable(NOT_OFFERED.get(name));
    }

    /** Every known name, for error messages. */
    public static List<String> names() {
        return Arrays.stream(values()).map(SchedulerType::configName).toList();
    }
}

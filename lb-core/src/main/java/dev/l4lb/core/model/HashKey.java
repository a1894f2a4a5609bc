package dev.l4lb.core.model;

/**
 * What the hashing schedulers ({@code sh}, {@code mh}) hash to choose a client's endpoint: its
 * address alone, so all its connections go to one endpoint, or its address and source port, so
 * one client's many connections (a NAT gateway's, a load generator's) spread over the endpoints
 * while each connection still lands where every balancer with the same endpoints would send it.
 */
public enum HashKey {
    CLIENT_IP("clientIp"),
    CLIENT_IP_PORT("clientIpPort");

    private final String configName;

    HashKey(String configName) {
        this.configName = configName;
    }

    /** The spelling the config file uses. */
    public String configName() {
        return configName;
    }
}

package dev.l4lb.core.model;

/** Which PROXY protocol header, if any, the balancer writes first on each backend connection. */
public enum ProxyProtocol {
    NONE("none"),
    V1("v1"),
    V2("v2");

    private final String configName;

    ProxyProtocol(String configName) {
        this.configName = configName;
    }

    /** The spelling the config file uses. */
    public String configName() {
        return configName;
    }
}

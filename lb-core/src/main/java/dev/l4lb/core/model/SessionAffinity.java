package dev.l4lb.core.model;

/** Kubernetes' Service.spec.sessionAffinity. */
public enum SessionAffinity {
    NONE("None"),
    CLIENT_IP("ClientIP");

    private final String configName;

    SessionAffinity(String configName) {
        this.configName = configName;
    }

    /** The spelling Kubernetes and the config file use. */
    public String configName() {
        return configName;
    }
}

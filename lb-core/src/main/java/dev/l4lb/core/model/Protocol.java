package dev.l4lb.core.model;

/** The transport a service port carries, as Kubernetes names it. */
public enum Protocol {
    TCP,
    UDP
}

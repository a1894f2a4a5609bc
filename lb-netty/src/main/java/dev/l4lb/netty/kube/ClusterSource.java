package dev.l4lb.netty.kube;

import dev.l4lb.core.kube.ClusterObjects;

/** Where the proxier reads the cluster's Services and EndpointSlices from: the API's informers or manifest files. */
public interface ClusterSource extends AutoCloseable {

    /** The objects as they are now. */
    ClusterObjects objects();

    @Override
    default void close() {
    }
}

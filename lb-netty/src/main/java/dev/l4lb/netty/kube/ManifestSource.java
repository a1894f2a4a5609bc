package dev.l4lb.netty.kube;

import java.nio.file.Path;
import java.util.List;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.l4lb.core.config.ConfigException;
import dev.l4lb.core.kube.ClusterObjects;
import dev.l4lb.core.kube.KubeManifests;

/**
 * Services and EndpointSlices read from manifest files ({@code lb run --manifests}). They are
 * read again on {@link #reload()}; files with a problem are rejected and the objects read before
 * stay in force.
 */
public final class ManifestSource implements ClusterSource {
    private static final Logger LOG = LoggerFactory.getLogger(ManifestSource.class);

    private final List<Path> paths;
    private volatile ClusterObjects objects;

    private ManifestSource(List<Path> paths, ClusterObjects objects) {
        this.paths = List.copyOf(paths);
        this.objects = objects;
    }

    /** Reads the files once. @throws ConfigException naming file, document and field of every problem */
    public static ManifestSource read(List<Path> paths) throws ConfigException {
        return new ManifestSource(paths, KubeManifests.load(paths));
    }

    /**
     * Reads the files again; returns false (and logs every problem) when they cannot be used.
     * One reload at a time: of two quick SIGHUPs, the files read last are the ones kept.
     */
    public synchronized boolean reload() {
        try {
            objects = KubeManifests.load(paths);
            return true;
        } catch (ConfigException e) {
            LOG.warn("manifests rejected, the objects read before stay in force:\n{}", e.getMessage());
            return false;
        }
    }

    @Override
    public ClusterObjects objects() {
        return objects;
    }
}

package dev.l4lb.netty.cli;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import dev.l4lb.core.config.BalancerConfig;
import dev.l4lb.netty.transport.BindFailure;
import dev.l4lb.netty.kube.ApiWatch;
import dev.l4lb.netty.kube.ProxierRuntime;
import dev.l4lb.netty.kube.portal.PortalLeftovers;
import dev.l4lb.netty.kube.portal.ReplyPath;
import dev.l4lb.netty.kube.portal.TproxyPortals;

/** {@code lb kube}: the userspace proxier of a cluster node, fed by the API server's Services and EndpointSlices. */
@Command(name = "kube", mixinStandardHelpOptions = true,
        description = {"Serve a Kubernetes cluster's Services on this node, as kube-proxy's userspace mode did: "
                + "informers on Services and EndpointSlices, a new snapshot after every change.",
                "Credentials: --kubeconfig, else $KUBECONFIG or ~/.kube/config, else the pod's service account."})
final class KubeCommand implements Callable<Integer> {
    /** How long the first lists of Services and EndpointSlices may take before the command gives up. */
    private static final long FIRST_LIST_TIMEOUT_SECONDS = 60;

    @Option(names = "--kubeconfig", paramLabel = "FILE", description = "The kubeconfig to use.")
    Path kubeconfig;

    @Option(names = "--master", paramLabel = "URL", description = "The API server's address, overriding the kubeconfig's.")
    String master;

    @Option(names = "--cleanup", description = "Remove the portals (iptables chains and jumps, TPROXY rules, the reply path, "
            + "ip rules and routes) and the rules refusing services without endpoints that an earlier run left, and exit, "
            + "as kube-proxy's --cleanup does. Needs root.")
    boolean cleanup;

    @Mixin
    ProxierOptions proxier;

    @Mixin
    DataPlaneOptions options;

    @Override
    public Integer call() {
        if (cleanup) {
            return removeLeftovers();
        }
        DataPlaneOptions.Plan plan = options.plan(() -> new BalancerConfig(List.of(), proxier.admin()));
        if (plan == null) {
            return ExitCodes.CONFIG_ERROR;
        }
        ProxierRuntime.Settings settings;
        Config config;
        try {
            settings = proxier.settings();
            config = kubeconfig != null ? Config.fromKubeconfig(null, kubeconfig.toFile()) : Config.autoConfigure(null);
            if (master != null) {
                config.setMasterUrl(master);
            }
        } catch (IllegalArgumentException e) {
            return Reports.usageError(e);
        } catch (RuntimeException e) {
            return Reports.startFailure(e); // an unreadable kubeconfig
        }
        ProxierRuntime runtime;
        try {
            runtime = ProxierRuntime.start(settings, plan.config().admin(), plan.transport(), plan.threads(),
                    plan.openConnectionLog(), onChange -> {
                        KubernetesClient client = new KubernetesClientBuilder().withConfig(config).build();
                        return ApiWatch.start(client, settings.node().nodeName(), onChange, FIRST_LIST_TIMEOUT_SECONDS);
                    });
        } catch (BindFailure e) {
            return Reports.bindFailure(e);
        } catch (RuntimeException e) {
            return Reports.startFailure(e);
        }
        Serving.untilSignalled(() -> runtime.shutdown(plan.grace()));
        return ExitCodes.OK;
    }

    private static int removeLeftovers() {
        List<String> problems = PortalLeftovers.remove();
        if (!problems.isEmpty()) {
            problems.forEach(problem -> System.err.println("lb kube --cleanup: " + problem));
            return ExitCodes.RUNTIME_FAILURE;
        }
        System.out.println("no l4lb portals left (iptables chains KUBE-PORTALS-CONTAINER, KUBE-PORTALS-HOST, "
                + "L4LB-TPROXY, L4LB-REPLIES, L4LB-NO-ENDPOINTS and their jumps; ip rules and routes of tables "
                + TproxyPortals.ROUTE_TABLE + " and " + ReplyPath.ROUTE_TABLE + ")");
        return ExitCodes.OK;
    }
}

package dev.l4lb.core.table;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetSocketAddress;
import java.util.List;
import java.util.Set;

import org.junit.jupiter.api.Test;

import dev.l4lb.core.config.ConfigLoader;
import dev.l4lb.core.model.Service;

/** Which port of a shared listener a ClientHello's server name picks. */
class ServerNameRoutesTest {
    private static final InetSocketAddress LISTENER = new InetSocketAddress("127.0.0.1", 443);
    private static final String CONFIG = """
            services:
              - name: shop/web
                ports:
                  - listen: ["127.0.0.1:443"]
                    serverNames: ["shop.example", "*.shop.example"]
                    endpoints: ["10.0.0.11:8443"]
              - name: blog/web
                ports:
                  - listen: ["127.0.0.1:443"]
                    serverNames: ["blog.example", "a.shop.example"]
                    endpoints: ["10.0.0.21:8443"]
              - name: default/fallback
                ports:
                  - listen: ["127.0.0.1:443"]
                    serverNames: ["*"]
                    endpoints: ["10.0.0.31:8443"]
            """;

    @Test
    void exactBeatsOneLabelWildcardBeatsStar() throws Exception {
        ServerNameRoutes routes = snapshot(CONFIG, ServiceSnapshot.empty()).lookupServerNames(LISTENER);
        assertThat(routes).isNotNull();
        assertThat(service(routes, "shop.example")).isEqualTo("shop/web");
        assertThat(service(routes, "b.shop.example")).isEqualTo("shop/web");
        assertThat(service(routes, "a.shop.example")).isEqualTo("blog/web"); // exact, over the wildcard
        assertThat(service(routes, "blog.example")).isEqualTo("blog/web");
        assertThat(service(routes, "blog.example.")).isEqualTo("blog/web");
        assertThat(service(routes, "b.a.shop.example")).isEqualTo("default/fallback"); // one label only
        assertThat(service(routes, "xshop.example")).isEqualTo("default/fallback");
        assertThat(service(routes, "example")).isEqualTo("default/fallback");
        assertThat(service(routes, "")).isEqualTo("default/fallback");
        assertThat(service(routes, null)).isEqualTo("default/fallback");
    }

    @Test
    void withoutAStarAnUnmatchedNameHasNoRoute() throws Exception {
        ServerNameRoutes routes = snapshot(CONFIG.substring(0, CONFIG.indexOf("  - name: default")), ServiceSnapshot.empty())
                .lookupServerNames(LISTENER);
        assertThat(routes.lookup("other.example")).isNull();
        assertThat(routes.lookup(null)).isNull();
        assertThat(routes.lookup("shop.example")).isNotNull();
    }

    @Test
    void aSharedListenerIsNotAPlainRouteAndManyNamesStillResolve() throws Exception {
        StringBuilder names = new StringBuilder();
        for (int i = 0; i < 1000; i++) {
            names.append(i == 0 ? "" : ", ").append("\"n").append(i).append(".example\"");
        }
        ServiceSnapshot snapshot = snapshot(CONFIG.replace("\"blog.example\", ", "\"blog.example\", " + names + ", "),
                ServiceSnapshot.empty());
        assertThat(snapshot.lookupTcp(LISTENER)).isNull();
        ServerNameRoutes routes = snapshot.lookupServerNames(LISTENER);
        for (int i = 0; i < 1000; i++) {
            assertThat(service(routes, "n" + i + ".example")).isEqualTo("blog/web");
        }
    }

    @Test
    void rejectionCountsSurviveAReloadAndRetiredListenersStillRoute() throws Exception {
        ServiceSnapshot first = snapshot(CONFIG, ServiceSnapshot.empty());
        first.lookupServerNames(LISTENER).rejections().record(HelloRejection.NOT_TLS);
        ServiceSnapshot second = snapshot(CONFIG.replace("blog.example", "news.example"), first);
        assertThat(second.lookupServerNames(LISTENER).rejections().count(HelloRejection.NOT_TLS)).isEqualTo(1);
        assertThat(service(second.lookupServerNames(LISTENER), "news.example")).isEqualTo("blog/web");

        RoutingTable table = new RoutingTable();
        table.switchTo(second, Set.of(), Set.of());
        table.switchTo(ServiceSnapshot.empty(), Set.of(LISTENER), Set.of());
        assertThat(table.serverNames(LISTENER)).isSameAs(second.lookupServerNames(LISTENER));
        table.switchTo(ServiceSnapshot.empty(), Set.of(), Set.of());
        assertThat(table.serverNames(LISTENER)).isNull();
    }

    private static ServiceSnapshot snapshot(String yaml, ServiceSnapshot previous) throws Exception {
        List<Service> services = ConfigLoader.parse("lb.yaml", yaml).services();
        return ServiceSnapshot.build(services, previous);
    }

    private static String service(ServerNameRoutes routes, String name) {
        Route route = routes.lookup(name);
        return route == null ? null : route.service().qualifiedName();
    }
}

package dev.l4lb.netty.log;

import java.io.StringWriter;
import java.net.InetSocketAddress;
import java.time.Instant;
import java.util.Locale;

import org.jspecify.annotations.Nullable;
import tools.jackson.core.JsonGenerator;
import tools.jackson.core.ObjectWriteContext;
import tools.jackson.core.json.JsonFactory;

import dev.l4lb.core.model.Addresses;
import dev.l4lb.core.table.Outcome;

/**
 * One line of the connection log: a client connection (or UDP session) that has closed.
 *
 * @param closed      when it closed
 * @param id          the connection's id, the same as the PROXY v2 unique-id TLV sent to the endpoint
 * @param service     {@code namespace/name:port}
 * @param client      the real client (the PROXY header's when the port accepts one)
 * @param destination what the client connected to
 * @param endpoint    the endpoint it was relayed to; for {@code connect_failed}, the endpoint whose
 *                    connect failed (the last one tried, when several were); null when no endpoint
 *                    was reached or tried
 * @param bytesIn     bytes relayed from the client to the endpoint
 * @param bytesOut    bytes relayed from the endpoint to the client
 * @param durationNanos from accept to close
 * @param outcome     an {@link Outcome#label()}, or {@value #CLIENT_LEFT}; a UDP session
 *                    ends with idle_timeout, unreachable, reloaded_away (its endpoint or client left
 *                    the config), listener_closed or failed; a connection to a listener shared by
 *                    server name may end with a {@link dev.l4lb.core.table.HelloRejection#label()}
 * @param serverName  the TLS server name its ClientHello asked for; null when none was read
 *                    (the port is not routed by name, or the hello had no name)
 */
public record ClosedConnection(Instant closed, String id, String service, InetSocketAddress client,
                               InetSocketAddress destination, @Nullable InetSocketAddress endpoint, long bytesIn, long bytesOut,
                               long durationNanos, String outcome, @Nullable String serverName) {

    /** A connection or session whose port is not routed by server name. */
    public ClosedConnection(Instant closed, String id, String service, InetSocketAddress client,
                            InetSocketAddress destination, @Nullable InetSocketAddress endpoint, long bytesIn, long bytesOut,
                            long durationNanos, String outcome) {
        this(closed, id, service, client, destination, endpoint, bytesIn, bytesOut, durationNanos, outcome, null);
    }

    /** The client closed before an endpoint was reached, and nothing refused it. */
    public static final String CLIENT_LEFT = "client_left";

    private static final JsonFactory JSON = new JsonFactory();

    /** {@code key=value} pairs on one line, for people and grep. */
    public String text() {
        return closed + " id=" + id + " service=" + service + " client=" + Addresses.format(client)
                + " destination=" + Addresses.format(destination)
                + " endpoint=" + (endpoint == null ? "-" : Addresses.format(endpoint))
                + " in=" + bytesIn + " out=" + bytesOut
                + " duration_ms=" + String.format(Locale.ROOT, "%.3f", durationNanos / 1e6)
                + " outcome=" + outcome + " sni=" + (serverName == null ? "-" : serverName);
    }

    /** One JSON object on one line, for log pipelines. */
    public String json() {
        StringWriter out = new StringWriter(256);
        try (JsonGenerator json = JSON.createGenerator(ObjectWriteContext.empty(), out)) {
            json.writeStartObject();
            json.writeStringProperty("time", closed.toString());
            json.writeStringProperty("id", id);
            json.writeStringProperty("service", service);
            json.writeStringProperty("client", Addresses.format(client));
            json.writeStringProperty("destination", Addresses.format(destination));
            json.writeStringProperty("endpoint", endpoint == null ? null : Addresses.format(endpoint));
            json.writeNumberProperty("bytesIn", bytesIn);
            json.writeNumberProperty("bytesOut", bytesOut);
            json.writeNumberProperty("durationMs", durationNanos / 1e6);
            json.writeStringProperty("outcome", outcome);
            json.writeStringProperty("sni", serverName);
            json.writeEndObject();
        }
        return out.toString();
    }
}

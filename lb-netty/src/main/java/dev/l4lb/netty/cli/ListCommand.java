package dev.l4lb.netty.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.Callable;

import tools.jackson.core.JacksonException;
import tools.jackson.databind.DeserializationFeature;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.ObjectMapper;
import tools.jackson.databind.json.JsonMapper;
import picocli.CommandLine;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import dev.l4lb.core.model.Addresses;

/** {@code lb list}: the services of a running balancer, read from its admin API and shown as {@code ipvsadm -Ln} does. */
@Command(name = "list", mixinStandardHelpOptions = true,
        description = "List the services of a running balancer, with their endpoints and counters, in the layout of"
                + " ipvsadm -Ln. Reads GET /api/v1/services on the balancer's admin address.")
final class ListCommand implements Callable<Integer> {
    private static final String PATH = "/api/v1/services";
    private static final Duration TIMEOUT = Duration.ofSeconds(5);

    @Spec
    CommandSpec spec;

    @Option(names = "--admin", defaultValue = "127.0.0.1:10249", paramLabel = "HOST:PORT",
            converter = AdminAddressConverter.class,
            description = "The balancer's admin address (admin.metrics), IPv6 as [::1]:10249. Default: ${DEFAULT-VALUE}.")
    InetSocketAddress admin;

    @ArgGroup(exclusive = true)
    Output output;

    @Option(names = "--exact", description = "Print numbers in full instead of abbreviating them with K, M, G, T.")
    boolean exact;

    /** What to print: one of ipvsadm's listings, or the JSON itself; one at a time, as in ipvsadm. */
    static final class Output {
        @Option(names = "--stats", description = "Totals since start: Conns InBytes OutBytes.")
        boolean stats;

        @Option(names = "--rate", description = "Rates per second: CPS InBPS OutBPS.")
        boolean rate;

        @Option(names = "--json", description = "The API's JSON as received, pretty-printed.")
        boolean json;
    }

    @Override
    public Integer call() {
        String where = Addresses.format(admin);
        String body;
        try {
            body = fetch(URI.create("http://" + where + PATH), where);
        } catch (AdminFailure e) {
            return report(e.getMessage());
        }
        // What follows the first JSON value is ignored, as it always was.
        ObjectMapper mapper = JsonMapper.builder().disable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS).build();
        JsonNode api;
        try {
            api = mapper.readTree(body);
        } catch (JacksonException e) {
            return report(where + " answered GET " + PATH + " with a body that is not JSON ("
                    + e.getOriginalMessage() + "); is it the admin address of an l4lb?");
        }
        if (api == null || !api.path("services").isArray()) {
            return report(where + " answered GET " + PATH + " with JSON that has no \"services\" list;"
                    + " is it the admin address of an l4lb?");
        }
        PrintWriter out = spec.commandLine().getOut();
        if (output != null && output.json) {
            out.println(mapper.writerWithDefaultPrettyPrinter().writeValueAsString(api));
        } else {
            out.print(IpvsListing.render(api, listing(), exact));
        }
        out.flush();
        return ExitCodes.OK;
    }

    private IpvsListing.Layout listing() {
        if (output == null) {
            return IpvsListing.Layout.CONNECTIONS;
        }
        return output.stats ? IpvsListing.Layout.STATS : output.rate ? IpvsListing.Layout.RATE
                : IpvsListing.Layout.CONNECTIONS;
    }

    /** The body of a 200 answer; anything else becomes the one line that tells the user what went wrong. */
    private static String fetch(URI uri, String where) throws AdminFailure {
        // The admin address is local; a proxy from the environment would only get in the way.
        HttpClient client = HttpClient.newBuilder()
                .connectTimeout(TIMEOUT)
                .proxy(HttpClient.Builder.NO_PROXY)
                .version(HttpClient.Version.HTTP_1_1)
                .build();
        HttpRequest request = HttpRequest.newBuilder(uri).timeout(TIMEOUT).header("Accept", "application/json").GET().build();
        HttpResponse<String> response;
        try {
            response = client.send(request, HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
        } catch (HttpConnectTimeoutException e) {
            throw unreachable(where, "no answer to connect within " + TIMEOUT.toSeconds() + " s");
        } catch (HttpTimeoutException e) {
            throw new AdminFailure(where + " accepted the connection but did not answer GET " + PATH + " within "
                    + TIMEOUT.toSeconds() + " s");
        } catch (IOException e) {
            throw unreachable(where, reason(e));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AdminFailure("interrupted while asking " + where + " for " + PATH);
        }
        if (response.statusCode() != 200) {
            throw new AdminFailure(where + " answered GET " + PATH + " with HTTP " + response.statusCode()
                    + firstLine(response.body()) + "; is it the admin address of an l4lb?");
        }
        return response.body();
    }

    private static AdminFailure unreachable(String where, String reason) {
        return new AdminFailure("no balancer answers on " + where + " (" + reason + ")"
                + "; is it running, and is admin.metrics set elsewhere?");
    }

    /** What failed, in the words of the innermost exception: the JDK's client wraps the socket's own. */
    private static String reason(IOException e) {
        Throwable root = Reports.rootCause(e);
        String message = root.getMessage() != null ? root.getMessage() : e.getMessage();
        if (e instanceof ConnectException && (message == null || message.toLowerCase(Locale.ROOT).contains("refused"))) {
            return "connection refused";
        }
        return message != null ? message : root.getClass().getSimpleName();
    }

    /** The start of an error page, so a 404 or 500 says what the other side thought, on the same line. */
    private static String firstLine(String body) {
        String line = body == null ? "" : body.strip().lines().findFirst().orElse("");
        if (line.isEmpty()) {
            return "";
        }
        return ": " + (line.length() > 120 ? line.substring(0, 120) + "..." : line);
    }

    private int report(String message) {
        PrintWriter err = spec.commandLine().getErr();
        err.println("lb list: " + message);
        err.flush();
        return ExitCodes.RUNTIME_FAILURE;
    }

    /** A failure to get the document, already worded for the user. */
    private static final class AdminFailure extends Exception {
        private static final long serialVersionUID = 1L;

        AdminFailure(String message) {
            super(message, null, false, false); // a user-facing message, not a bug: no stack trace to fill in
        }
    }

    /** {@code 127.0.0.1:10249} or {@code [::1]:10249}: an IP literal, as the admin address is configured. */
    static final class AdminAddressConverter implements CommandLine.ITypeConverter<InetSocketAddress> {
        @Override
        public InetSocketAddress convert(String value) {
            return Addresses.parseHostPort(value).filter(address -> address.getPort() > 0).orElseThrow(() ->
                    new CommandLine.TypeConversionException(
                            "'" + value + "' is not an IP address and port such as 127.0.0.1:10249 or [::1]:10249"
                                    + " (host names are not looked up)"));
        }
    }
}

package dev.l4lb.netty.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;

import tools.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import dev.l4lb.netty.testing.Ports;

/** {@code lb list} against a real HTTP server on loopback that answers as the admin API would, and against nobody. */
class ListCommandTest {
    private HttpServer server;
    private String admin;
    private volatile int status = 200;
    private volatile String body = IpvsListingTest.CONTRACT_EXAMPLE;
    private volatile String requestLine;

    @BeforeEach
    void startTheAdminServer() throws IOException {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/api/v1/services", exchange -> {
            requestLine = exchange.getRequestMethod() + " " + exchange.getRequestURI();
            byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
            exchange.getResponseHeaders().set("Content-Type", "application/json");
            exchange.sendResponseHeaders(status, bytes.length);
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(bytes);
            }
        });
        server.start();
        admin = "127.0.0.1:" + server.getAddress().getPort();
    }

    @AfterEach
    void stopTheAdminServer() {
        server.stop(0);
    }

    @Test
    void listsTheServicesAsIpvsadmLn() {
        Result result = list("--admin", admin);

        assertThat(result.status).isZero();
        assertThat(requestLine).isEqualTo("GET /api/v1/services");
        assertThat(result.out).isEqualTo("""
                l4lb 0.1.0-SNAPSHOT userspace proxy (transport io_uring)
                Prot LocalAddress:Port Scheduler Flags
                  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
                TCP  127.0.0.1:8080 rr persistent 10800
                     [::1]:8080
                  -> 127.0.0.1:9001               PPv2    1      3          0        \s
                """);
        assertThat(result.err).isEmpty();
    }

    @Test
    void stats() {
        Result result = list("--admin", admin, "--stats");

        assertThat(result.status).isZero();
        assertThat(result.out).isEqualTo("""
                l4lb 0.1.0-SNAPSHOT userspace proxy (transport io_uring)
                Prot LocalAddress:Port               Conns  InBytes OutBytes
                  -> RemoteAddress:Port
                TCP  127.0.0.1:8080                    123   123456   654321
                     [::1]:8080
                  -> 127.0.0.1:9001                    120     1000     2000
                """);
    }

    @Test
    void rate() {
        Result result = list("--admin", admin, "--rate", "--exact");

        assertThat(result.status).isZero();
        assertThat(result.out).isEqualTo("""
                l4lb 0.1.0-SNAPSHOT userspace proxy (transport io_uring)
                Prot LocalAddress:Port                 CPS    InBPS   OutBPS
                  -> RemoteAddress:Port
                TCP  127.0.0.1:8080                      2     2048     4096
                     [::1]:8080
                  -> 127.0.0.1:9001                      1      100      200
                """);
    }

    @Test
    void jsonIsTheDocumentAsReceivedPrettyPrinted() throws Exception {
        body = IpvsListingTest.CONTRACT_EXAMPLE.replaceAll("\\s+", ""); // sent on one line; no blank in any value
        Result result = list("--admin", admin, "--json");

        assertThat(result.status).isZero();
        ObjectMapper mapper = new ObjectMapper();
        assertThat(mapper.readTree(result.out)).isEqualTo(mapper.readTree(IpvsListingTest.CONTRACT_EXAMPLE));
        assertThat(result.out).startsWith("""
                {
                  "version" : "0.1.0-SNAPSHOT",
                  "transport" : "io_uring",
                """);
    }

    @Test
    void noBalancerIsOneClearLineAndStatusOne() throws IOException {
        int closed = Ports.free();
        Result result = list("--admin", "127.0.0.1:" + closed);

        assertThat(result.status).isEqualTo(ExitCodes.RUNTIME_FAILURE);
        assertThat(result.out).isEmpty();
        assertThat(result.err).isEqualTo("lb list: no balancer answers on 127.0.0.1:" + closed
                + " (connection refused); is it running, and is admin.metrics set elsewhere?\n");
    }

    @Test
    void anIpv6AdminAddressIsNamedInBrackets() throws IOException {
        int closed = Ports.free();
        Result result = list("--admin", "[::1]:" + closed);

        assertThat(result.status).isEqualTo(ExitCodes.RUNTIME_FAILURE);
        // Refused where the host has IPv6, another reason where it has none: the address is named either way.
        assertThat(result.err).startsWith("lb list: no balancer answers on [::1]:" + closed + " (")
                .endsWith("; is it running, and is admin.metrics set elsewhere?\n");
    }

    @Test
    void somethingElseOnThePortIsNamedWithItsAnswer() {
        status = 404;
        body = "No context found for request\n";
        Result result = list("--admin", admin);

        assertThat(result.status).isEqualTo(ExitCodes.RUNTIME_FAILURE);
        assertThat(result.err).isEqualTo("lb list: " + admin + " answered GET /api/v1/services with HTTP 404:"
                + " No context found for request; is it the admin address of an l4lb?\n");
    }

    @Test
    void aBodyThatIsNotTheServicesDocumentIsReported() {
        body = "{\"status\": \"ok\"}";
        Result result = list("--admin", admin);

        assertThat(result.status).isEqualTo(ExitCodes.RUNTIME_FAILURE);
        assertThat(result.err).isEqualTo("lb list: " + admin + " answered GET /api/v1/services with JSON that has"
                + " no \"services\" list; is it the admin address of an l4lb?\n");

        body = "<html>hello</html>";
        result = list("--admin", admin);
        assertThat(result.status).isEqualTo(ExitCodes.RUNTIME_FAILURE);
        assertThat(result.err).startsWith("lb list: " + admin + " answered GET /api/v1/services with a body that is not JSON (")
                .endsWith("; is it the admin address of an l4lb?\n");
    }

    @Test
    void aListenerThatNeverAnswersTimesOut() throws IOException {
        // The kernel completes the handshake into the backlog; nobody ever reads the request.
        try (ServerSocket silent = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            Result result = list("--admin", "127.0.0.1:" + silent.getLocalPort());

            assertThat(result.status).isEqualTo(ExitCodes.RUNTIME_FAILURE);
            assertThat(result.err).isEqualTo("lb list: 127.0.0.1:" + silent.getLocalPort()
                    + " accepted the connection but did not answer GET /api/v1/services within 5 s\n");
        }
    }

    @Test
    void statsAndRateAreOneOrTheOther() {
        Result result = list("--admin", admin, "--stats", "--rate");

        assertThat(result.status).isEqualTo(ExitCodes.CONFIG_ERROR);
        assertThat(result.err).contains("mutually exclusive");
        assertThat(requestLine).as("nothing asked").isNull();
    }

    @Test
    void aHostNameIsNotAnAdminAddress() {
        Result result = list("--admin", "localhost:10249");

        assertThat(result.status).isEqualTo(ExitCodes.CONFIG_ERROR);
        assertThat(result.err).contains("'localhost:10249' is not an IP address and port such as 127.0.0.1:10249 or [::1]:10249"
                + " (host names are not looked up)");
    }

    private record Result(int status, String out, String err) {
    }

    private static Result list(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine command = new CommandLine(new ListCommand());
        command.setOut(new PrintWriter(out, true));
        command.setErr(new PrintWriter(err, true));
        int status = command.execute(args);
        return new Result(status, out.toString(), err.toString());
    }
}

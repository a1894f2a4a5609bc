package dev.l4lb.netty.cli;

import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.l4lb.core.model.Addresses;
import dev.l4lb.netty.transport.BindFailure;
import dev.l4lb.netty.transport.Transport;
import dev.l4lb.netty.echo.EchoServer;

/** {@code lb echo-server --listen ADDR:PORT ... [--udp]}: test backends to put behind the balancer. */
@Command(name = "echo-server", mixinStandardHelpOptions = true,
        description = {"Run test backends. TCP (default): HTTP requests get an echoserver-style page",
                "(backend=, client_address=, ...), other bytes are echoed back.",
                "UDP (--udp): a datagram 'whoami' gets 'backend=ADDR:PORT client=ADDR:PORT',",
                "any other datagram comes back unchanged."})
final class EchoServerCommand implements Callable<Integer> {
    private static final Logger LOG = LoggerFactory.getLogger(EchoServerCommand.class);

    @Option(names = "--listen", required = true, paramLabel = "ADDR:PORT",
            description = "Address to listen on; repeat for several backends, e.g. --listen 127.0.0.1:9001 --listen [::1]:9001.")
    List<String> listen;

    @Option(names = "--transport", defaultValue = "auto", paramLabel = "NAME",
            description = "auto, epoll, io_uring or nio. Default: ${DEFAULT-VALUE}.")
    String transport;

    @Option(names = "--threads", defaultValue = "1", paramLabel = "N", description = "Event loops. Default: ${DEFAULT-VALUE}.")
    int threads;

    @Option(names = "--proxy-protocol",
            description = {"Every connection must begin with a PROXY header (v1 or v2, detected), as behind a balancer",
                    "with proxyProtocol set; the page reports the client the header names (client_address=, client_port=),",
                    "its version (proxy_protocol=) and a v2 unique id (proxy_unique_id=). Other connections are closed."})
    boolean proxyProtocol;

    @Option(names = "--udp",
            description = "Serve UDP on the --listen addresses instead of TCP: each datagram is answered to its sender"
                    + " from the same socket, 'whoami' with 'backend=ADDR:PORT client=ADDR:PORT', anything else echoed"
                    + " unchanged (up to 65,507 bytes). Listen on a specific address rather than 0.0.0.0, so that"
                    + " replies leave from the address the client sent to. Not with --proxy-protocol (TCP only).")
    boolean udp;

    @Override
    public Integer call() {
        List<InetSocketAddress> addresses = new ArrayList<>();
        Transport selected;
        try {
            for (String text : listen) {
                addresses.add(Addresses.parseHostPort(text).orElseThrow(() ->
                        new IllegalArgumentException("--listen '" + text + "' is not ADDR:PORT (IPv6 as [::1]:9001)")));
            }
            selected = Transport.select(transport);
            if (udp && proxyProtocol) {
                throw new IllegalArgumentException("--proxy-protocol is TCP only; it cannot be used with --udp");
            }
        } catch (IllegalArgumentException e) {
            return Reports.usageError(e);
        }
        EchoServer server;
        try {
            server = udp
                    ? EchoServer.startUdp(addresses, selected, Math.max(1, threads))
                    : EchoServer.start(addresses, selected, Math.max(1, threads), proxyProtocol);
        } catch (BindFailure e) {
            return Reports.bindFailure(e);
        }
        LOG.info("echo server listening on {} {}{}", udp ? "UDP" : "TCP",
                server.addresses().stream().map(Addresses::format).toList(),
                proxyProtocol ? ", expecting a PROXY header first" : "");
        Serving.untilSignalled(server::close);
        return ExitCodes.OK;
    }
}

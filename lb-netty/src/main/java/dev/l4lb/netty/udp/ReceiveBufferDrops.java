package dev.l4lb.netty.udp;

import java.io.BufferedReader;
import java.io.IOException;
import java.net.Inet4Address;
import java.net.InetSocketAddress;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Datagrams the kernel dropped because a UDP listener's receive buffer was full: they never
 * reach l4lb, so it cannot count them itself (in a 30 s flood, 91% of what clients sent was lost
 * so, and no l4lb counter showed it). Linux keeps a count per socket and prints it as the last
 * column of {@code /proc/net/udp} and {@code /proc/net/udp6}; this sums it over the sockets bound
 * to a port's listen addresses (one per event loop with SO_REUSEPORT). A listener socket that
 * closes takes its count with it, as a restart would.
 *
 * <p>Read at scrape time, not on the data path. The files list every UDP socket of the network
 * namespace (a line per session socket, too), so one reading serves every port for a second.
 */
public final class ReceiveBufferDrops {
    private static final long FRESH_NANOS = 1_000_000_000L;
    /** ::ffff:0:0/96 as the first three words of a procForm address. */
    private static final String MAPPED_PREFIX = ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN
            ? "0000000000000000FFFF0000" : "00000000000000000000FFFF";
    private static final List<Path> TABLES = List.of(Path.of("/proc/net/udp"), Path.of("/proc/net/udp6"));

    private Map<String, Long> byLocalAddress = Map.of();
    private long readAt = System.nanoTime() - 2 * FRESH_NANOS;

    /** Datagrams dropped by the kernel for the sockets bound to {@code listen}, summed; 0 where the tables cannot be read. */
    public synchronized long dropped(List<InetSocketAddress> listen) {
        if (System.nanoTime() - readAt > FRESH_NANOS) {
            byLocalAddress = read();
            readAt = System.nanoTime();
        }
        long sum = 0;
        for (InetSocketAddress address : listen) {
            sum += byLocalAddress.getOrDefault(procForm(address), 0L);
            if (address.getAddress() instanceof Inet4Address) {
                // Netty's native sockets are dual-stack AF_INET6 ones where it can: an IPv4 listener
                // then shows in udp6 under its IPv4-mapped address.
                sum += byLocalAddress.getOrDefault(MAPPED_PREFIX + procForm(address), 0L);
            }
        }
        return sum;
    }

    private Map<String, Long> read() {
        Map<String, Long> drops = new HashMap<>();
        for (Path table : TABLES) {
            try (BufferedReader in = Files.newBufferedReader(table)) {
                in.readLine(); // the header
                for (String line; (line = in.readLine()) != null; ) {
                    String[] fields = line.trim().split("\\s+");
                    if (fields.length >= 13) {
                        drops.merge(fields[1], Long.parseLong(fields[fields.length - 1]), Long::sum);
                    }
                }
            } catch (NoSuchFileException e) {
                // no IPv6 in this kernel, or no /proc: nothing to add
            } catch (IOException | NumberFormatException e) {
                // a table in a form this does not know: count nothing rather than something wrong
            }
        }
        return drops;
    }

    /**
     * An address as the kernel prints a socket's local address: each 32-bit word of the IP in
     * the machine's byte order as 8 hex digits, then the port as 4 hex digits.
     */
    static String procForm(InetSocketAddress address) {
        byte[] ip = address.getAddress().getAddress();
        StringBuilder out = new StringBuilder(ip.length * 2 + 5);
        boolean little = ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN;
        for (int word = 0; word < ip.length; word += 4) {
            for (int i = 0; i < 4; i++) {
                int b = ip[word + (little ? 3 - i : i)] & 0xFF;
                out.append(String.format(Locale.ROOT, "%02X", b));
            }
        }
        return out.append(':').append(String.format(Locale.ROOT, "%04X", address.getPort())).toString();
    }
}

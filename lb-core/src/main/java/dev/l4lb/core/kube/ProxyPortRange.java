package dev.l4lb.core.kube;

import java.util.BitSet;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;

import dev.l4lb.core.model.Protocol;

/**
 * Proxy ports from a fixed range ({@code --proxy-port-range}), lowest free first. Ports found
 * unusable are skipped until every other port of the range is taken.
 */
public final class ProxyPortRange implements ProxyPorts {
    private final int first;
    private final int last;
    private final Map<String, Integer> assigned = new HashMap<>();
    private final BitSet taken = new BitSet();
    private final BitSet unusable = new BitSet();

    public ProxyPortRange(int first, int last) {
        if (first < 1 || last > 65535 || first > last) {
            throw new IllegalArgumentException("proxy port range must be within 1-65535 and not empty: " + first + "-" + last);
        }
        this.first = first;
        this.last = last;
    }

    /** Parses {@code FROM-TO} (kube-proxy's --proxy-port-range), or {@code FROM+N}. */
    public static ProxyPortRange parse(String text) {
        try {
            int plus = text.indexOf('+');
            if (plus > 0) {
                int from = Integer.parseInt(text.substring(0, plus).trim());
                return new ProxyPortRange(from, from + Integer.parseInt(text.substring(plus + 1).trim()) - 1);
            }
            int dash = text.indexOf('-');
            if (dash <= 0) {
                throw new IllegalArgumentException("proxy port range must be FROM-TO or FROM+N: " + text);
            }
            return new ProxyPortRange(Integer.parseInt(text.substring(0, dash).trim()),
                    Integer.parseInt(text.substring(dash + 1).trim()));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("proxy port range must be FROM-TO or FROM+N: " + text, e);
        }
    }

    @Override
    public synchronized int portFor(String key, Protocol protocol) {
        Integer port = assigned.get(key);
        if (port != null) {
            return port;
        }
        int free = next(true);
        if (free < 0) {
            free = next(false);
        }
        if (free < 0) {
            throw new IllegalStateException("no proxy port left in " + first + "-" + last + " for " + key);
        }
        taken.set(free);
        assigned.put(key, free);
        return free;
    }

    @Override
    public synchronized void retainOnly(Set<String> keys) {
        assigned.entrySet().removeIf(e -> {
            if (keys.contains(e.getKey())) {
                return false;
            }
            taken.clear(e.getValue());
            return true;
        });
    }

    @Override
    public synchronized boolean handedOut(int port) {
        return taken.get(port); // set only inside the range
    }

    @Override
    public synchronized void unusable(int port) {
        if (assigned.values().removeIf(p -> p == port)) {
            taken.clear(port);
            unusable.set(port);
        }
    }

    private int next(boolean skipUnusable) {
        for (int port = first; port <= last; port++) {
            if (!taken.get(port) && !(skipUnusable && unusable.get(port))) {
                return port;
            }
        }
        return -1;
    }
}

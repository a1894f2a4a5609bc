package dev.l4lb.netty.transport;

import java.net.InetSocketAddress;

import dev.l4lb.core.model.Addresses;

/** A listener that could not be bound, told in one line a user can act on. */
public final class BindFailure extends Exception {
    private static final long serialVersionUID = 1L;

    private final transient InetSocketAddress address;

    public BindFailure(InetSocketAddress address, String owner, Throwable cause) {
        super("cannot listen on " + Addresses.format(address) + " for " + owner + ": " + reason(cause), cause);
        this.address = address;
    }

    /** The listener address that could not be bound. */
    public InetSocketAddress address() {
        return address;
    }

    private static String reason(Throwable cause) {
        String message = String.valueOf(cause.getMessage());
        if (message.contains("Address already in use")) {
            return "the port is already in use";
        }
        if (message.contains("Cannot assign requested address")) {
            return "the address is not an address of this host";
        }
        if (message.contains("Permission denied")) {
            return "permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)";
        }
        return message;
    }
}

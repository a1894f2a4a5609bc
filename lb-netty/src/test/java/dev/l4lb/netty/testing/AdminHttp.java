package dev.l4lb.netty.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;

import tools.jackson.core.JacksonException;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.ObjectMapper;

import dev.l4lb.core.model.Addresses;

/** A plain HTTP client for the admin server's endpoints, with bounded waits. */
public final class AdminHttp {
    private static final HttpClient CLIENT = HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5))
            .build();
    private static final ObjectMapper JSON = new ObjectMapper();

    private AdminHttp() {
    }

    public static URI uri(InetSocketAddress address, String path) {
        return URI.create("http://" + Addresses.format(address) + path);
    }

    public static HttpResponse<String> get(InetSocketAddress address, String path) {
        return send(HttpRequest.newBuilder(uri(address, path)).GET());
    }

    /** A POST as the README's curl line sends it: no body, {@code Content-Type: application/json}. */
    public static HttpResponse<String> post(InetSocketAddress address, String path) {
        return post(address, path, "Content-Type", "application/json");
    }

    /** A POST with no body and these header name, value pairs, as a browser or a script might send it. */
    public static HttpResponse<String> post(InetSocketAddress address, String path, String... headers) {
        HttpRequest.Builder request = HttpRequest.newBuilder(uri(address, path)).POST(HttpRequest.BodyPublishers.noBody());
        if (headers.length > 0) {
            request.headers(headers);
        }
        return send(request);
    }

    public static JsonNode json(HttpResponse<String> response) {
        try {
            return JSON.readTree(response.body());
        } catch (JacksonException e) {
            throw new AssertionError("not JSON: " + response.body(), e);
        }
    }

    private static HttpResponse<String> send(HttpRequest.Builder request) {
        try {
            return CLIENT.send(request.timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}

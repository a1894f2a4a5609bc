package dev.l4lb.core.config;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Reads a config or manifest file as UTF-8, and when it is not, says where: the JDK's own
 * message ("Input length = 3") names neither the line nor the bytes.
 */
public final class Utf8File {
    private Utf8File() {
    }

    /**
     * The file's text.
     *
     * @throws ConfigException when it is not UTF-8, naming the line, the byte within it and the bytes found
     * @throws IOException     when it cannot be read
     */
    public static String read(Path path) throws IOException, ConfigException {
        byte[] bytes = Files.readAllBytes(path);
        CharsetDecoder decoder = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT);
        ByteBuffer in = ByteBuffer.wrap(bytes);
        CharBuffer out = CharBuffer.allocate(bytes.length);
        CoderResult result = decoder.decode(in, out, true);
        if (result.isError()) {
            throw new ConfigException(List.of(notUtf8(path.toString(), bytes, in.position(), result.length())));
        }
        decoder.flush(out);
        return out.flip().toString();
    }

    private static ConfigProblem notUtf8(String file, byte[] bytes, int at, int length) {
        int line = 1;
        int lineStart = 0;
        for (int i = 0; i < at; i++) {
            if (bytes[i] == '\n') {
                line++;
                lineStart = i + 1;
            }
        }
        StringBuilder found = new StringBuilder();
        for (int i = at; i < Math.min(bytes.length, at + length); i++) {
            found.append(found.isEmpty() ? "" : " ").append(String.format("0x%02X", bytes[i] & 0xFF));
        }
        return new ConfigProblem(file, "line " + line + ", byte " + (at - lineStart + 1),
                "not UTF-8 (" + found + "): save the file as UTF-8");
    }
}

package dev.l4lb.core.config;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class DurationsTest {

    @ParameterizedTest
    @CsvSource({
        "500ms, PT0.5S, 500ms",
        "1s,    PT1S,   1s",
        "1m30s, PT1M30S, 90s",
        "2h,    PT2H,   2h",
        "90m,   PT1H30M, 90m",
        "1s500ms, PT1.5S, 1500ms",
        "0,     PT0S,   0",
        "0s,    PT0S,   0"
    })
    void parsesAndFormatsBack(String text, Duration expected, String formatted) {
        assertThat(Durations.parse(text)).contains(expected);
        assertThat(Durations.format(expected)).isEqualTo(formatted);
        // What format writes, parse reads back to the same duration.
        assertThat(Durations.parse(formatted)).contains(expected);
    }

    @ParameterizedTest
    @ValueSource(strings = {"1", "1x", "-1s", "", "s", "1.5s", "1 s", "1S", "ms", "1s ", "99999999999999999999h"})
    void rejectsWhatIsNotADuration(String text) {
        assertThat(Durations.parse(text)).isEmpty();
    }

    @Test
    void formatPicksTheLargestWholeUnit() {
        assertThat(Durations.format(Duration.ofMinutes(120))).isEqualTo("2h");
        assertThat(Durations.format(Duration.ofSeconds(120))).isEqualTo("2m");
        assertThat(Durations.format(Duration.ofMillis(2001))).isEqualTo("2001ms");
    }
}

/*
 * spandsp DTMF receiver harness for bench/dtmf_bench.py (compiled at bench time).
 *
 * Reads records from stdin: a little-endian uint32 sample count, then that many signed 16-bit
 * little-endian samples at 8 kHz. For each record a fresh receiver with spandsp's default
 * parameters runs over the samples (in 160-sample frames, as a call would deliver them) and
 * one line with the digits it reported is printed. The last line is "#cpu <seconds>": the
 * process CPU time spent inside dtmf_rx() alone.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <spandsp.h>

static char digits[4096];
static size_t ndigits;

static void on_digits(void *user_data, const char *d, int len)
{
    (void) user_data;
    for (int i = 0; i < len && ndigits + 1 < sizeof(digits); i++)
        digits[ndigits++] = d[i];
}

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(void)
{
    uint32_t n;
    double spent = 0.0;
    while (fread(&n, sizeof n, 1, stdin) == 1) {
        int16_t *amp = malloc((size_t) n * sizeof *amp + 1);
        if (amp == NULL || fread(amp, sizeof *amp, n, stdin) != n) {
            fprintf(stderr, "truncated record\n");
            return 2;
        }
        dtmf_rx_state_t *rx = dtmf_rx_init(NULL, on_digits, NULL);
        ndigits = 0;
        double t0 = cpu_now();
        for (uint32_t i = 0; i < n; i += 160)
            dtmf_rx(rx, amp + i, (int) (n - i < 160 ? n - i : 160));
        spent += cpu_now() - t0;
        digits[ndigits] = '\0';
        printf("%s\n", digits);
        dtmf_rx_free(rx);
        free(amp);
    }
    printf("#cpu %.6f\n", spent);
    return 0;
}

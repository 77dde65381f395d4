/*
 * fbcounter: draw a frame counter on the framebuffer, frame after frame,
 * for the migration tests.  Runs in the test guest (a static binary in the
 * initramfs); every frame goes through the Linux qxl driver's fbdev
 * emulation and becomes QXL draw commands.
 *
 *   fbcounter DEVICE TOP_ROW INTERVAL_MS
 *
 * Frame n fills rows TOP_ROW .. TOP_ROW + 31 with 64 cells of 16 x 32
 * pixels: cells 0-31 are the bits of n (most significant first), cells
 * 32-63 those of ~n; a set bit is white, a clear one dark red.  A client
 * that decodes a band whose two halves disagree has seen a torn or
 * corrupted frame.  Each frame is one write() of whole rows, so on a
 * one-CPU guest the driver never copies half a frame.  After each frame
 * the count is written to /tmp/frames.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define WIDTH       1024
#define STRIDE      (WIDTH * 4)
#define BAND_ROWS   32
#define CELLS       64
#define CELL_WIDTH  (WIDTH / CELLS)

static const uint32_t set_px = 0x00ffffff;
static const uint32_t clear_px = 0x00600000;

static void draw(uint32_t *band, uint32_t n)
{
    for (int cell = 0; cell < CELLS; cell++) {
        uint32_t word = cell < 32 ? n : ~n;
        int bit = (word >> (31 - cell % 32)) & 1;
        uint32_t px = bit ? set_px : clear_px;

        for (int x = cell * CELL_WIDTH; x < (cell + 1) * CELL_WIDTH; x++) {
            band[x] = px;
        }
    }
    for (int y = 1; y < BAND_ROWS; y++) {
        memcpy(band + y * WIDTH, band, STRIDE);
    }
}

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

    while (nanosleep(&ts, &ts) != 0) {
        continue;
    }
}

int main(int argc, char **argv)
{
    static uint32_t band[WIDTH * BAND_ROWS];
    long top, interval;
    int fb;

    if (argc != 4 || sscanf(argv[2], "%ld", &top) != 1 ||
        sscanf(argv[3], "%ld", &interval) != 1) {
        fprintf(stderr, "usage: fbcounter DEVICE TOP_ROW INTERVAL_MS\n");
        return 2;
    }
    fb = open(argv[1], O_WRONLY);
    if (fb < 0) {
        perror(argv[1]);
        return 1;
    }
    for (uint32_t n = 1;; n++) {
        char text[16];
        int len, out;

        draw(band, n);
        if (pwrite(fb, band, sizeof(band), top * STRIDE) != sizeof(band)) {
            perror("write");
            return 1;
        }
        len = snprintf(text, sizeof(text), "%u\n", n);
        out = open("/tmp/frames", O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (out >= 0) {
            if (write(out, text, len) != len) {
                perror("/tmp/frames");
            }
            close(out);
        }
        sleep_ms(interval);
    }
}

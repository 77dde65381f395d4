/*
 * bench-draw: draws frames through a Linux DRM driver (qxl, bochs) as fast
 * as it can, for make bench.
 *
 *   bench-draw full|small SECONDS
 *
 * A 1024x768 XRGB8888 dumb buffer is shown on the first connected
 * connector (SETCRTC); then, for SECONDS, frame n fills either the whole
 * buffer (full) or a 102x77 rectangle at the top left, 1 % of the screen
 * (small), with colour n, and hands the area to the driver with DIRTYFB
 * (where the driver has it: bochs scans the dumb buffer out directly).
 * Pixel (0, 0) of frame n is thus n (24 bits): a client counts the frames
 * it receives by watching it.  Prints on stdout:
 *   BENCH: drawing <mode>           once the mode is set
 *   BENCH: frames <n> seconds <s>   at the end
 * SECONDS 0 draws until killed.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <drm.h>
#include <drm_mode.h>

#define W 1024
#define H 768
#define SMALL_W 102
#define SMALL_H 77

static int fd;

static void xioctl(unsigned long req, void *arg, const char *what)
{
    while (ioctl(fd, req, arg) != 0) {
        if (errno == EINTR || errno == EAGAIN) {
            continue;
        }
        fprintf(stderr, "bench-draw: %s: %s\n", what, strerror(errno));
        exit(1);
    }
}

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    struct drm_mode_card_res res = { 0 };
    uint32_t conn_ids[16], crtc_ids[16], enc_ids[16];
    struct drm_mode_modeinfo modes[64], *mode = NULL;
    struct drm_mode_get_connector conn = { 0 };
    struct drm_mode_get_encoder enc = { 0 };
    struct drm_mode_create_dumb create = { 0 };
    struct drm_mode_fb_cmd fbcmd = { 0 };
    struct drm_mode_map_dumb map = { 0 };
    struct drm_mode_crtc crtc = { 0 };
    struct drm_mode_fb_dirty_cmd dirty = { 0 };
    struct drm_clip_rect clip = { 0 };
    uint32_t *pixels, crtc_id;
    int small, seconds;
    unsigned long n = 0;
    double t0, end;

    if (argc != 3 || (strcmp(argv[1], "full") && strcmp(argv[1], "small"))) {
        fprintf(stderr, "usage: bench-draw full|small SECONDS\n");
        return 2;
    }
    small = !strcmp(argv[1], "small");
    seconds = atoi(argv[2]);
    fd = open("/dev/dri/card0", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        perror("bench-draw: /dev/dri/card0");
        return 1;
    }

    res.connector_id_ptr = (uintptr_t)conn_ids;
    res.count_connectors = 16;
    res.crtc_id_ptr = (uintptr_t)crtc_ids;
    res.count_crtcs = 16;
    res.encoder_id_ptr = (uintptr_t)enc_ids;
    res.count_encoders = 16;
    xioctl(DRM_IOCTL_MODE_GETRESOURCES, &res, "GETRESOURCES");
    if (!res.count_connectors || !res.count_crtcs) {
        fprintf(stderr, "bench-draw: no connector or crtc\n");
        return 1;
    }

    for (uint32_t c = 0; c < res.count_connectors && c < 16; c++) {
        memset(&conn, 0, sizeof(conn));
        conn.connector_id = conn_ids[c];
        conn.modes_ptr = (uintptr_t)modes;
        conn.count_modes = 64;
        xioctl(DRM_IOCTL_MODE_GETCONNECTOR, &conn, "GETCONNECTOR");
        if (conn.connection != 1 || !conn.count_modes) {
            continue;
        }
        for (uint32_t m = 0; m < conn.count_modes && m < 64; m++) {
            if (modes[m].hdisplay == W && modes[m].vdisplay == H) {
                mode = &modes[m];
                break;
            }
        }
        if (mode) {
            break;
        }
    }
    if (!mode) {
        fprintf(stderr, "bench-draw: no connector offers %dx%d\n", W, H);
        return 1;
    }
    crtc_id = crtc_ids[0];
    if (conn.encoder_id) {
        enc.encoder_id = conn.encoder_id;
        if (ioctl(fd, DRM_IOCTL_MODE_GETENCODER, &enc) == 0 && enc.crtc_id) {
            crtc_id = enc.crtc_id;
        }
    }

    create.width = W;
    create.height = H;
    create.bpp = 32;
    xioctl(DRM_IOCTL_MODE_CREATE_DUMB, &create, "CREATE_DUMB");
    fbcmd.width = W;
    fbcmd.height = H;
    fbcmd.pitch = create.pitch;
    fbcmd.bpp = 32;
    fbcmd.depth = 24;
    fbcmd.handle = create.handle;
    xioctl(DRM_IOCTL_MODE_ADDFB, &fbcmd, "ADDFB");
    map.handle = create.handle;
    xioctl(DRM_IOCTL_MODE_MAP_DUMB, &map, "MAP_DUMB");
    pixels = mmap(NULL, create.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
                  map.offset);
    if (pixels == MAP_FAILED) {
        perror("bench-draw: mmap");
        return 1;
    }
    memset(pixels, 0, create.size);

    crtc.crtc_id = crtc_id;
    crtc.fb_id = fbcmd.fb_id;
    crtc.set_connectors_ptr = (uintptr_t)&conn.connector_id;
    crtc.count_connectors = 1;
    crtc.mode = *mode;
    crtc.mode_valid = 1;
    xioctl(DRM_IOCTL_MODE_SETCRTC, &crtc, "SETCRTC");
    printf("BENCH: drawing %s\n", argv[1]);
    fflush(stdout);

    clip.x2 = small ? SMALL_W : W;
    clip.y2 = small ? SMALL_H : H;
    dirty.fb_id = fbcmd.fb_id;
    dirty.num_clips = 1;
    dirty.clips_ptr = (uintptr_t)&clip;

    t0 = now();
    end = t0 + seconds;
    while (seconds == 0 || now() < end) {
        uint32_t colour = ++n & 0xffffff;
        uint32_t stride = create.pitch / 4;

        for (uint32_t y = 0; y < clip.y2; y++) {
            uint32_t *row = pixels + y * stride;

            for (uint32_t x = 0; x < clip.x2; x++) {
                row[x] = colour;
            }
        }
        /* Drivers that scan the dumb buffer out directly have no DIRTYFB. */
        if (dirty.num_clips) {
            while (ioctl(fd, DRM_IOCTL_MODE_DIRTYFB, &dirty) != 0) {
                if (errno == ENOSYS || errno == EOPNOTSUPP) {
                    dirty.num_clips = 0;
                    break;
                }
                if (errno != EINTR && errno != EAGAIN) {
                    perror("bench-draw: DIRTYFB");
                    return 1;
                }
            }
        }
    }
    printf("BENCH: frames %lu seconds %.3f\n", n, now() - t0);
    return 0;
}

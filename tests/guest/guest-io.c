/*
 * guest-io: what the SPICE input and audio tests do inside the test guest
 * (static, no library beyond libc; built by scripts/build-guest.sh).
 *
 *   guest-io events DEV...        print every input event of these evdev
 *                                 devices: "GUEST: ev NAME TYPE CODE VALUE"
 *   guest-io play SECONDS HZ      a square wave to /dev/dsp (OSS emulation),
 *                                 48 kHz, 16-bit stereo
 *   guest-io record SECONDS       read /dev/dsp; print the loudest sample:
 *                                 "GUEST: record peak N of M frames"
 *   guest-io controls             list the sound card's mixer controls
 *   guest-io set NAME VALUE...    set a mixer control (every channel)
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>
#include <linux/input.h>
#include <linux/soundcard.h>
#include <sound/asound.h>

static int die(const char *what)
{
    printf("GUEST: guest-io: %s: %s\n", what, strerror(errno));
    return 1;
}

static int events(int n, char **devs)
{
    struct pollfd pfd[16];
    int i;

    if (n > 16) {
        n = 16;
    }
    for (i = 0; i < n; i++) {
        pfd[i].fd = open(devs[i], O_RDONLY);
        pfd[i].events = POLLIN;
        if (pfd[i].fd < 0) {
            return die(devs[i]);
        }
    }
    printf("GUEST: events ready\n");
    fflush(stdout);
    for (;;) {
        if (poll(pfd, n, -1) < 0) {
            return die("poll");
        }
        for (i = 0; i < n; i++) {
            struct input_event ev;
            const char *name = strrchr(devs[i], '/');

            if (!(pfd[i].revents & POLLIN)) {
                continue;
            }
            if (read(pfd[i].fd, &ev, sizeof(ev)) != sizeof(ev)) {
                return die("read");
            }
            if (ev.type == EV_SYN || ev.type == EV_MSC) {
                continue;
            }
            printf("GUEST: ev %s %d %d %d\n", name ? name + 1 : devs[i],
                   ev.type, ev.code, ev.value);
            fflush(stdout);
        }
    }
}

static int dsp_open(int mode)
{
    int fd = open("/dev/dsp", mode);
    int fmt = AFMT_S16_LE, ch = 2, rate = 48000;

    if (fd < 0) {
        return -1;
    }
    if (ioctl(fd, SNDCTL_DSP_SETFMT, &fmt) < 0 ||
        ioctl(fd, SNDCTL_DSP_CHANNELS, &ch) < 0 ||
        ioctl(fd, SNDCTL_DSP_SPEED, &rate) < 0) {
        close(fd);
        return -1;
    }
    printf("GUEST: dsp fmt %d channels %d rate %d\n", fmt, ch, rate);
    return fd;
}

static int play(int seconds, int hz)
{
    int fd = dsp_open(O_WRONLY);
    static short buf[4800 * 2];
    int i, n, half = 48000 / hz / 2;

    if (fd < 0) {
        return die("/dev/dsp");
    }
    for (i = 0; i < 4800; i++) {
        short v = (i / half) % 2 ? 12000 : -12000;

        buf[2 * i] = buf[2 * i + 1] = v;
    }
    for (n = 0; n < seconds * 10; n++) {
        if (write(fd, buf, sizeof(buf)) != sizeof(buf)) {
            return die("write /dev/dsp");
        }
    }
    close(fd);
    printf("GUEST: played %d s\n", seconds);
    return 0;
}

static int record(int seconds)
{
    int fd = dsp_open(O_RDONLY);
    static short buf[4800 * 2];
    long frames = 0;
    int peak = 0, i, n;

    if (fd < 0) {
        return die("/dev/dsp");
    }
    for (n = 0; n < seconds * 10; n++) {
        int got = read(fd, buf, sizeof(buf));

        if (got < 0) {
            return die("read /dev/dsp");
        }
        for (i = 0; i < got / 2; i++) {
            int v = abs(buf[i]);
            peak = v > peak ? v : peak;
        }
        frames += got / 4;
    }
    close(fd);
    printf("GUEST: record peak %d of %ld frames\n", peak, frames);
    return 0;
}

static int ctl_open(void)
{
    return open("/dev/snd/controlC0", O_RDWR);
}

static int controls(void)
{
    struct snd_ctl_elem_list list = { 0 };
    struct snd_ctl_elem_id ids[64];
    int fd = ctl_open(), i;

    if (fd < 0) {
        return die("/dev/snd/controlC0");
    }
    list.space = 64;
    list.pids = ids;
    if (ioctl(fd, SNDRV_CTL_IOCTL_ELEM_LIST, &list) < 0) {
        return die("ELEM_LIST");
    }
    for (i = 0; i < (int)list.used; i++) {
        struct snd_ctl_elem_info info = { .id = ids[i] };

        if (ioctl(fd, SNDRV_CTL_IOCTL_ELEM_INFO, &info) < 0) {
            continue;
        }
        printf("GUEST: control '%s' type %d count %d min %ld max %ld\n",
               (char *)ids[i].name, info.type, info.count,
               info.value.integer.min, info.value.integer.max);
    }
    return 0;
}

static int set(const char *name, int argc, char **argv)
{
    struct snd_ctl_elem_value val = { 0 };
    struct snd_ctl_elem_info info = { 0 };
    int fd = ctl_open(), i;

    if (fd < 0) {
        return die("/dev/snd/controlC0");
    }
    info.id.iface = SNDRV_CTL_ELEM_IFACE_MIXER;
    strncpy((char *)info.id.name, name, sizeof(info.id.name) - 1);
    if (ioctl(fd, SNDRV_CTL_IOCTL_ELEM_INFO, &info) < 0) {
        return die(name);
    }
    val.id = info.id;
    for (i = 0; i < (int)info.count; i++) {
        val.value.integer.value[i] = atol(argv[i < argc ? i : argc - 1]);
    }
    if (ioctl(fd, SNDRV_CTL_IOCTL_ELEM_WRITE, &val) < 0) {
        return die("ELEM_WRITE");
    }
    printf("GUEST: set '%s' done\n", name);
    return 0;
}

int main(int argc, char **argv)
{
    int r = 2;

    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc >= 3 && !strcmp(argv[1], "events")) {
        r = events(argc - 2, argv + 2);
    } else if (argc == 4 && !strcmp(argv[1], "play")) {
        r = play(atoi(argv[2]), atoi(argv[3]));
    } else if (argc == 3 && !strcmp(argv[1], "record")) {
        r = record(atoi(argv[2]));
    } else if (argc == 2 && !strcmp(argv[1], "controls")) {
        r = controls();
    } else if (argc >= 4 && !strcmp(argv[1], "set")) {
        r = set(argv[2], argc - 3, argv + 3);
    } else {
        fprintf(stderr, "usage: see tests/guest/guest-io.c\n");
    }
    fflush(stdout);
    return r;
}

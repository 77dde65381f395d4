/*
 * bench-init: PID 1 of the guest for the idle benchmark (make bench),
 * booted with rdinit=/bin/bench-init.  No modules, no console on the
 * display: the screen stays as chosen by "bench=" on the kernel command
 * line, and nothing in the guest draws.
 *
 *   bench=text   VGA text mode as the BIOS and the kernel's vgacon left it
 *   bench=vbe    1024x768x32 VBE graphics, set through the Bochs VBE ports
 *                (the std VGA and qxl-vga in VGA mode both have them)
 *   bench=none   nothing (no display device)
 *
 * It prints "BENCH: ready <mode>" on the serial port, then sleeps.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/io.h>
#include <sys/mount.h>
#include <sys/stat.h>

#define VBE_INDEX 0x1ce
#define VBE_DATA  0x1cf

static void vbe_write(unsigned short index, unsigned short value)
{
    outw(index, VBE_INDEX);
    outw(value, VBE_DATA);
}

static int set_vbe(void)
{
    /* A 16-bit access to 0x1cf also touches port 0x1d0. */
    if (ioperm(VBE_INDEX, 3, 1) != 0) {
        return -1;
    }
    vbe_write(4, 0);            /* ENABLE off */
    vbe_write(1, 1024);         /* XRES */
    vbe_write(2, 768);          /* YRES */
    vbe_write(3, 32);           /* BPP */
    vbe_write(6, 1024);         /* VIRT_WIDTH */
    vbe_write(8, 0);            /* X_OFFSET */
    vbe_write(9, 0);            /* Y_OFFSET */
    vbe_write(4, 0x41);         /* ENABLE | LFB */
    return 0;
}

int main(void)
{
    char cmdline[4096] = "";
    const char *mode = "none";
    FILE *serial;
    int fd;

    mkdir("/proc", 0755);
    mkdir("/dev", 0755);
    mount("proc", "/proc", "proc", 0, NULL);
    mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
    fd = open("/proc/cmdline", O_RDONLY);
    if (fd >= 0) {
        ssize_t n = read(fd, cmdline, sizeof(cmdline) - 1);

        cmdline[n > 0 ? n : 0] = 0;
        close(fd);
    }
    if (strstr(cmdline, "bench=vbe")) {
        mode = set_vbe() == 0 ? "vbe" : "vbe-failed";
    } else if (strstr(cmdline, "bench=text")) {
        mode = "text";
    }
    serial = fopen("/dev/ttyS0", "w");
    if (serial) {
        fprintf(serial, "BENCH: ready %s\n", mode);
        fclose(serial);
    }
    for (;;) {
        pause();
    }
}

/*
 * QXL monitors configuration, both ways: the guest tells spice-server its
 * heads (MONITORS_CONFIG_ASYNC), and the client's wished layout reaches the
 * guest through the ROM and the CLIENT_MONITORS_CONFIG interrupt.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * qxl_guest_monitors_config() runs on a vCPU thread (or in the main loop
 * after migration); qxl_client_monitors_config() is called by
 * spice-server in the main loop.  spice-server reads the guest's config
 * from a host copy, never from guest memory.
 */

#include "qemu/osdep.h"
#include <zlib.h>
#include "qxl.h"
#include "trace.h"

static uint16_t qxl_max_heads(PCIQXLDevice *d)
{
    return d->max_outputs ? d->max_outputs : QXL_MAX_HEADS;
}

/*
 * The guest checks this CRC before trusting the config.  It is the Linux
 * driver's crc32(0, ...) (crc32_le: the register starts at 0 and is not
 * inverted at the end); zlib's crc32() inverts at both ends, so it is
 * given the inverse of 0 and its result inverted back.
 */
static void qxl_rom_client_monitors_crc(PCIQXLDevice *d)
{
    QXLRom *rom = d->rom;
    uint32_t crc = crc32(0xffffffff,
                         (const Bytef *)&rom->client_monitors_config,
                         sizeof(rom->client_monitors_config)) ^ 0xffffffff;

    rom->client_monitors_config_crc = cpu_to_le32(crc);
}

/* Power-on value: one head of xres x yres when both are set. */
void qxl_rom_client_monitors_init(PCIQXLDevice *d)
{
    QXLRom *rom = d->rom;

    memset(&rom->client_monitors_config, 0,
           sizeof(rom->client_monitors_config));
    if (d->xres && d->yres) {
        rom->client_monitors_config.count = cpu_to_le16(1);
        rom->client_monitors_config.heads[0].right = cpu_to_le32(d->xres);
        rom->client_monitors_config.heads[0].bottom = cpu_to_le32(d->yres);
    }
    qxl_rom_client_monitors_crc(d);
}

/*
 * The client's layout.  Returns 0 when this guest cannot take it from the
 * device (spice-server then tries the agent), 1 when it can.
 */
int qxl_client_monitors_config(PCIQXLDevice *d, VDAgentMonitorsConfig *mc)
{
    QXLRom *rom = d->rom;
    uint32_t mask = le32_to_cpu(qatomic_read(&d->ram->int_mask));
    typeof(rom->client_monitors_config) cfg = { 0 };
    uint32_t count;

    if (d->revision < QXL_REVISION_STABLE_V12 ||
        !(mask & QXL_INTERRUPT_CLIENT_MONITORS_CONFIG) || mask == ~0u) {
        return 0;
    }
    if (!mc) {
        return 1;
    }
    count = MIN(mc->num_of_monitors, qxl_max_heads(d));
    cfg.count = cpu_to_le16(count);
    for (uint32_t i = 0; i < count; i++) {
        VDAgentMonConfig *m = &mc->monitors[i];

        cfg.heads[i].left = cpu_to_le32(m->x);
        cfg.heads[i].top = cpu_to_le32(m->y);
        cfg.heads[i].right = cpu_to_le32(m->x + m->width);
        cfg.heads[i].bottom = cpu_to_le32(m->y + m->height);
    }
    trace_qxl_monitors_client(d->id, count,
                                     count ? mc->monitors[0].width : 0,
                                     count ? mc->monitors[0].height : 0);
    if (!memcmp(&cfg, &rom->client_monitors_config, sizeof(cfg))) {
        return 1;
    }
    rom->client_monitors_config = cfg;
    qxl_rom_client_monitors_crc(d);
    qxl_rom_set_dirty(d);
    qxl_send_events(d, QXL_INTERRUPT_CLIENT_MONITORS_CONFIG);
    return 1;
}

/*
 * The guest's heads at @phys, read once into a host copy that spice-server
 * is given (it reads it on its worker thread, after the port returns) and
 * that @c owns until the request completes.  @replay: after migration,
 * quietly.  False when nothing was handed over.
 */
static bool qxl_monitors_config_to_spice(PCIQXLDevice *d, QXLPHYSICAL phys,
                                         QXLCookie *c, bool replay)
{
    QXLMonitorsConfig hdr;
    g_autofree QXLMonitorsConfig *copy = NULL;
    uint16_t count;

    if (!qxl_read_guest(d, phys, &hdr, sizeof(hdr))) {
        if (!replay) {
            qxl_guest_bug(d, "monitors config at 0x%" PRIx64
                          " outside memslots", phys);
        }
        return false;
    }
    count = le16_to_cpu(hdr.count);
    if (count > qxl_max_heads(d)) {
        if (!replay) {
            qxl_guest_bug(d, "monitors config: %u heads, max_outputs is %u",
                          count, qxl_max_heads(d));
        }
        return false;
    }
    copy = g_malloc0(sizeof(*copy) + MAX(count, 1) * sizeof(QXLHead));
    if (count && !qxl_read_guest(d, phys + sizeof(hdr), copy->heads,
                                 count * sizeof(QXLHead))) {
        if (!replay) {
            qxl_guest_bug(d, "monitors config heads outside memslots");
        }
        return false;
    }
    /* spice-server sizes what it reads by count: the one checked. */
    copy->count = hdr.count;
    copy->max_allowed = hdr.max_allowed;
    d->primary_head_width = count == 1 ? le32_to_cpu(copy->heads[0].width) : 0;
    d->primary_head_height = count == 1 ?
                             le32_to_cpu(copy->heads[0].height) : 0;
    d->guest_monitors_config = phys;
    trace_qxl_monitors_guest(d->id, count);
    c->owned = g_steal_pointer(&copy);
    qxl_spice_monitors_config(d, c->owned, c);
    return true;
}

/*
 * MONITORS_CONFIG_ASYNC: ram->monitors_config.  Returns true when the
 * request (and @c) was handed to spice-server.
 */
bool qxl_guest_monitors_config(PCIQXLDevice *d, QXLCookie *c)
{
    return qxl_monitors_config_to_spice(d, le64_to_cpu(d->ram->monitors_config),
                                        c, false);
}

/* After migration: the config the source had, if it is still valid. */
void qxl_guest_monitors_config_replay(PCIQXLDevice *d)
{
    QXLCookie *c = qxl_cookie_new(NULL, 0, NULL);

    if (!qxl_monitors_config_to_spice(d, d->guest_monitors_config, c, true)) {
        qxl_cookie_free(c);
    }
}

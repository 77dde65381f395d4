/*
 * SPICE character devices: -chardev spicevmc and -chardev spiceport.
 *
 * A SpiceChardev is both a QEMU chardev (its front-end is typically a
 * virtserialport the guest opens) and a spice-server character device
 * (SpiceCharDeviceInterface).  Bytes flow in both directions with
 * back-pressure:
 *
 *  guest -> spice   The front-end calls spice_chr_write().  We offer its
 *                   buffer and wake spice-server, which pulls from it
 *                   through spice_sif_read() before the wakeup returns.  If
 *                   spice leaves bytes, the write is short and the
 *                   front-end waits on our watch, which becomes ready the
 *                   next time spice asks for data and finds none.
 *  spice -> guest   spice-server calls spice_sif_write(); we hand the
 *                   front-end what it can take now and report the count.
 *                   The rest stays in spice-server, which retries when we
 *                   call spice_server_char_device_wakeup() from
 *                   chr_accept_input (the guest gave us buffers).
 *
 * Threads: spice-server runs character devices on the core interface QEMU
 * gives it, i.e. QEMU's main loop, so every function here runs in the main
 * loop with the BQL held; spice_sif_read() and spice_sif_write() may also
 * run nested inside spice_server_char_device_wakeup() and
 * spice_server_add_interface() calls made from this file.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include <spice/protocol.h>
#include "qapi/error.h"
#include "qemu/module.h"
#include "qemu/option.h"
#include "chardev/char.h"
#include "chardev/spice.h"
#include "chardev/spice-vdagent.h"
#include "ui/qemu-spice.h"
#include "trace.h"

/* The channel names spice-server 0.15 exposes for spicevmc. */
#define SPICE_SUBTYPE_VDAGENT "vdagent"
/* The subtype of every spiceport chardev. */
#define SPICE_SUBTYPE_PORT "port"

static const char *spice_chr_name(SpiceChardev *s)
{
    return s->sin.portname ? s->sin.portname : s->sin.subtype;
}

/* ---- spice-server's side (SpiceCharDeviceInterface) ------------------ */

/* spice-server pulls guest bytes (during spice_chr_write()). */
static int spice_sif_read(SpiceCharDeviceInstance *sin, uint8_t *buf, int len)
{
    SpiceChardev *s = container_of(sin, SpiceChardev, sin);
    size_t n;

    if (len <= 0) {
        return 0;
    }
    if (!s->offer_len) {
        /* Spice wants more and we have none: let the front-end resume. */
        s->throttled = false;
        return 0;
    }
    n = MIN((size_t)len, s->offer_len);
    memcpy(buf, s->offer, n);
    s->offer += n;
    s->offer_len -= n;
    return n;
}

/* spice-server pushes bytes for the guest. */
static int spice_sif_write(SpiceCharDeviceInstance *sin, const uint8_t *buf,
                           int len)
{
    SpiceChardev *s = container_of(sin, SpiceChardev, sin);
    Chardev *chr = CHARDEV(s);
    int done = 0;

    while (done < len) {
        int room = qemu_chr_be_can_write(chr);
        int n = MIN(room, len - done);

        if (n <= 0) {
            break;
        }
        qemu_chr_be_write(chr, (uint8_t *)buf + done, n);
        done += n;
    }
    trace_spice_chardev_to_guest(spice_chr_name(s), len, done);
    return done;
}

/* spice-server tells us whether its side of the channel is up. */
static void spice_sif_state(SpiceCharDeviceInstance *sin, int connected)
{
    SpiceChardev *s = container_of(sin, SpiceChardev, sin);
    Chardev *chr = CHARDEV(s);

    trace_spice_chardev_state(spice_chr_name(s), connected);
    if (!connected && s->owns_vdagent) {
        /*
         * For the agent this is a detach, ours or spice-server's own when
         * the guest broke the agent protocol: either way we are out.
         */
        s->registered = false;
    }
    if (!!chr->be_open == !!connected) {
        return;
    }
    qemu_chr_be_event(chr, connected ? CHR_EVENT_OPENED : CHR_EVENT_CLOSED);
}

/* Port events from the client; only a break means something to QEMU. */
static void spice_sif_event(SpiceCharDeviceInstance *sin, uint8_t event)
{
    SpiceChardev *s = container_of(sin, SpiceChardev, sin);

    if (event == SPICE_PORT_EVENT_BREAK) {
        qemu_chr_be_event(CHARDEV(s), CHR_EVENT_BREAK);
    }
}

static const SpiceCharDeviceInterface spice_chr_sif = {
    .base = {
        .type = SPICE_INTERFACE_CHAR_DEVICE,
        .description = "QEMU spicevmc/spiceport chardev",
        .major_version = SPICE_INTERFACE_CHAR_DEVICE_MAJOR,
        .minor_version = SPICE_INTERFACE_CHAR_DEVICE_MINOR,
    },
    .state = spice_sif_state,
    .write = spice_sif_write,
    .read = spice_sif_read,
    .event = spice_sif_event,
    /* We call spice_server_char_device_wakeup() when the guest has room. */
    .flags = SPICE_CHAR_DEVICE_NOTIFY_WRITABLE,
};

static void spice_chr_register(SpiceChardev *s)
{
    int ret;

    if (s->registered) {
        return;
    }
    s->sin.base.sif = &spice_chr_sif.base;
    ret = qemu_spice.add_interface(&s->sin.base);
    trace_spice_chardev_register(spice_chr_name(s), ret);
    /* On failure spice-server has already logged why; stay unregistered. */
    s->registered = ret == 0;
}

static void spice_chr_unregister(SpiceChardev *s)
{
    if (!s->registered) {
        return;
    }
    s->registered = false;
    spice_server_remove_interface(&s->sin.base);
    trace_spice_chardev_unregister(spice_chr_name(s));
}

/* ---- QEMU's side (Chardev) ------------------------------------------- */

typedef struct SpiceChrWatch {
    GSource source;
    SpiceChardev *chr;
} SpiceChrWatch;

/* The front-end may write again once spice drained us, or on hang-up. */
static gboolean spice_chr_watch_ready(GSource *source)
{
    SpiceChrWatch *w = (SpiceChrWatch *)source;

    return !CHARDEV(w->chr)->be_open || !w->chr->throttled;
}

static gboolean spice_chr_watch_prepare(GSource *source, gint *timeout)
{
    *timeout = -1;
    return spice_chr_watch_ready(source);
}

static gboolean spice_chr_watch_dispatch(GSource *source, GSourceFunc cb,
                                         gpointer opaque)
{
    SpiceChrWatch *w = (SpiceChrWatch *)source;
    GIOCondition cond = CHARDEV(w->chr)->be_open ? G_IO_OUT : G_IO_HUP;

    return ((GIOFunc)cb)(NULL, cond, opaque);
}

static GSourceFuncs spice_chr_watch_funcs = {
    .prepare = spice_chr_watch_prepare,
    .check = spice_chr_watch_ready,
    .dispatch = spice_chr_watch_dispatch,
};

static GSource *spice_chr_add_watch(Chardev *chr, GIOCondition cond)
{
    SpiceChrWatch *w;

    w = (SpiceChrWatch *)g_source_new(&spice_chr_watch_funcs, sizeof(*w));
    w->chr = SPICE_CHARDEV(chr);
    return &w->source;
}

static int spice_chr_write(Chardev *chr, const uint8_t *buf, int len)
{
    SpiceChardev *s = SPICE_CHARDEV(chr);
    size_t taken;

    if (!chr->be_open || !s->registered) {
        /* Nobody listens: drop it rather than stall the guest. */
        trace_spice_chardev_from_guest(spice_chr_name(s), len, len);
        return len;
    }
    s->offer = buf;
    s->offer_len = len;
    s->throttled = true;
    spice_server_char_device_wakeup(&s->sin);
    taken = len - s->offer_len;
    s->offer = NULL;
    s->offer_len = 0;
    if (taken == len) {
        s->throttled = false;
    }
    trace_spice_chardev_from_guest(spice_chr_name(s), len, taken);
    return taken;
}

static void spice_chr_accept_input(Chardev *chr)
{
    SpiceChardev *s = SPICE_CHARDEV(chr);

    if (s->registered) {
        spice_server_char_device_wakeup(&s->sin);
    }
}

/* How errors name a spicevmc chardev that holds the agent channel. */
static char *spicevmc_owner(Chardev *chr)
{
    return g_strdup_printf("chardev '%s'", chr->label);
}

static void spice_chr_finalize(Object *obj)
{
    SpiceChardev *s = SPICE_CHARDEV(obj);

    spice_chr_unregister(s);
    if (s->owns_vdagent) {
        g_autofree char *owner = spicevmc_owner(CHARDEV(s));

        spice_vdagent_release(owner);
    }
    g_free((char *)s->sin.subtype);
    g_free((char *)s->sin.portname);
}

/* ---- spicevmc --------------------------------------------------------- */

static bool spicevmc_name_known(const char *name, Error **errp)
{
    const char **known = spice_server_char_device_recognized_subtypes();
    g_autofree char *list = NULL;

    if (g_strv_contains(known, name)) {
        return true;
    }
    list = g_strjoinv(", ", (char **)known);
    error_setg(errp, "spicevmc: this spice-server has no channel named '%s'",
               name);
    error_append_hint(errp, "Channels it knows: %s\n", list);
    return false;
}

/* name= of -chardev spicevmc/spiceport, which both require. */
static const char *spice_chr_parse_name(QemuOpts *opts, const char *usage,
                                        Error **errp)
{
    const char *name = qemu_opt_get(opts, "name");

    if (!name) {
        error_setg(errp, "%s is required", usage);
    }
    return name;
}

static void spicevmc_parse(QemuOpts *opts, ChardevBackend *backend,
                           Error **errp)
{
    const char *name = spice_chr_parse_name(opts, "spicevmc: name=<channel>",
                                            errp);
    ChardevSpiceChannel *cfg;

    if (name) {
        backend->type = CHARDEV_BACKEND_KIND_SPICEVMC;
        cfg = backend->u.spicevmc.data = g_new0(ChardevSpiceChannel, 1);
        qemu_chr_parse_common(opts, qapi_ChardevSpiceChannel_base(cfg));
        cfg->type = g_strdup(name);
    }
}

static void spicevmc_open(Chardev *chr, ChardevBackend *backend,
                          bool *be_opened, Error **errp)
{
    SpiceChardev *s = SPICE_CHARDEV(chr);
    const char *name = backend->u.spicevmc.data->type;

    if (!spicevmc_name_known(name, errp)) {
        return;
    }
    if (g_str_equal(name, SPICE_SUBTYPE_VDAGENT)) {
        g_autofree char *owner = spicevmc_owner(chr);

        if (!spice_vdagent_claim(owner, errp)) {
            return;
        }
        s->owns_vdagent = true;
    }
    s->sin.subtype = g_strdup(name);
    /* spice-server opens us (state callback) once the guest opened us. */
    *be_opened = false;
}

/* The guest opened or closed its port: the channel exists only meanwhile. */
static void spicevmc_set_fe_open(Chardev *chr, int fe_open)
{
    SpiceChardev *s = SPICE_CHARDEV(chr);

    if (fe_open) {
        spice_chr_register(s);
    } else {
        spice_chr_unregister(s);
    }
}

/* ---- spiceport -------------------------------------------------------- */

static void spiceport_parse(QemuOpts *opts, ChardevBackend *backend,
                            Error **errp)
{
    const char *name = spice_chr_parse_name(opts, "spiceport: name=<fqdn>",
                                            errp);
    ChardevSpicePort *cfg;

    if (name) {
        backend->type = CHARDEV_BACKEND_KIND_SPICEPORT;
        cfg = backend->u.spiceport.data = g_new0(ChardevSpicePort, 1);
        qemu_chr_parse_common(opts, qapi_ChardevSpicePort_base(cfg));
        cfg->fqdn = g_strdup(name);
    }
}

static void spiceport_open(Chardev *chr, ChardevBackend *backend,
                           bool *be_opened, Error **errp)
{
    SpiceChardev *s = SPICE_CHARDEV(chr);
    const char *fqdn = backend->u.spiceport.data->fqdn;

    if (!fqdn || !*fqdn) {
        error_setg(errp, "spiceport: name=<fqdn> is required");
        return;
    }
    if (!qemu_using_spice(errp)) {
        return;
    }
    s->sin.subtype = g_strdup(SPICE_SUBTYPE_PORT);
    s->sin.portname = g_strdup(fqdn);
    *be_opened = false;
    /* A port is offered to clients for the VM's whole life. */
    spice_chr_register(s);
}

/* The guest side opened or closed: tell the client. */
static void spiceport_set_fe_open(Chardev *chr, int fe_open)
{
    SpiceChardev *s = SPICE_CHARDEV(chr);

    if (s->registered) {
        spice_server_port_event(&s->sin, fe_open ? SPICE_PORT_EVENT_OPENED
                                                 : SPICE_PORT_EVENT_CLOSED);
    }
}

/* ---- types ------------------------------------------------------------ */

static void spice_chr_class_init(ObjectClass *oc, void *data)
{
    ChardevClass *cc = CHARDEV_CLASS(oc);

    cc->chr_write = spice_chr_write;
    cc->chr_add_watch = spice_chr_add_watch;
    cc->chr_accept_input = spice_chr_accept_input;
}

static void spicevmc_class_init(ObjectClass *oc, void *data)
{
    ChardevClass *cc = CHARDEV_CLASS(oc);

    cc->parse = spicevmc_parse;
    cc->open = spicevmc_open;
    cc->chr_set_fe_open = spicevmc_set_fe_open;
}

static void spiceport_class_init(ObjectClass *oc, void *data)
{
    ChardevClass *cc = CHARDEV_CLASS(oc);

    cc->parse = spiceport_parse;
    cc->open = spiceport_open;
    cc->chr_set_fe_open = spiceport_set_fe_open;
}

static const TypeInfo spice_chr_types[] = {
    {
        .name = TYPE_CHARDEV_SPICE,
        .parent = TYPE_CHARDEV,
        .abstract = true,
        .instance_size = sizeof(SpiceChardev),
        .instance_finalize = spice_chr_finalize,
        .class_init = spice_chr_class_init,
    }, {
        .name = TYPE_CHARDEV_SPICEVMC,
        .parent = TYPE_CHARDEV_SPICE,
        .class_init = spicevmc_class_init,
    }, {
        .name = TYPE_CHARDEV_SPICEPORT,
        .parent = TYPE_CHARDEV_SPICE,
        .class_init = spiceport_class_init,
    },
};

DEFINE_TYPES(spice_chr_types)
module_obj(TYPE_CHARDEV_SPICE);
module_obj(TYPE_CHARDEV_SPICEVMC);
module_obj(TYPE_CHARDEV_SPICEPORT);
module_dep("ui-spice-core");

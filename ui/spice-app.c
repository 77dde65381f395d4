/*
 * -display spice-app: a local SPICE session shown by the desktop's SPICE
 * viewer.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Early (before -spice is applied) it turns SPICE on for this machine only:
 * a Unix socket in a private directory, no ticket, no lossy or expensive
 * compression.  The directory is $XDG_RUNTIME_DIR/qemu/<-name>, or a new
 * temporary one without -name; the socket (and a temporary directory) go
 * away when QEMU exits.
 *
 * Text consoles (the "vc" chardevs: default serial port, parallel port,
 * HMP monitor, -chardev vc) become SPICE ports that the viewer shows as
 * terminals, under the names docs/spice-port-fqdn.txt reserves, and a QMP
 * monitor is offered on the port org.qemu.monitor.qmp.0.
 *
 * Then it starts the desktop's handler for spice+unix:// URIs (virt-viewer
 * 8.0 or later registers as one) with the socket's URI.
 */

#include "qemu/osdep.h"

#include <gio/gio.h>

#include "qemu/cutils.h"
#include "qemu/error-report.h"
#include "qemu/module.h"
#include "qemu/option.h"
#include "qapi/error.h"
#include "chardev/char.h"
#include "chardev/spice.h"
#include "monitor/monitor.h"
#include "system/system.h"
#include "ui/console.h"
#include "ui/qemu-spice.h"

/* The SPICE binding and the spiceport chardev must be there too. */
module_dep("ui-spice-core");
module_dep("chardev-spice");

#define TYPE_CHARDEV_SPICE_APP_VC "chardev-vc"

static char *app_dir;
static bool app_dir_is_temp;
static char *app_socket;

/* ---- text consoles as SPICE ports -------------------------------------- */

/* The SPICE port name of a vc chardev, from its label. */
static char *spice_app_vc_fqdn(const char *label)
{
    static const struct {
        const char *prefix;
        const char *fqdn;
    } known[] = {
        { "serial", "org.qemu.console.serial" },
        { "parallel", "org.qemu.console.parallel" },
        { "compat_monitor", "org.qemu.monitor.hmp" },
    };
    size_t i;
    const char *num;
    int n;

    for (i = 0; i < ARRAY_SIZE(known); i++) {
        if (strstart(label, known[i].prefix, &num) &&
            qemu_strtoi(num, NULL, 10, &n) == 0) {
            return g_strdup_printf("%s.%s", known[i].fqdn, num);
        }
    }
    return g_strdup_printf("org.qemu.console.%s", label);
}

static void spice_app_vc_parse(QemuOpts *opts, ChardevBackend *backend,
                               Error **errp)
{
    ChardevVC *vc = backend->u.vc.data = g_new0(ChardevVC, 1);

    /* Sizes and colours mean nothing for a port: only logfile= and such. */
    qemu_chr_parse_common(opts, qapi_ChardevVC_base(vc));
}

static void spice_app_vc_open(Chardev *chr, ChardevBackend *backend,
                              bool *be_opened, Error **errp)
{
    ChardevClass *spiceport =
        CHARDEV_CLASS(object_class_by_name(TYPE_CHARDEV_SPICEPORT));
    ChardevSpicePort port = {
        .fqdn = spice_app_vc_fqdn(chr->label),
    };
    ChardevBackend be = {
        .type = CHARDEV_BACKEND_KIND_SPICEPORT,
        .u.spiceport.data = &port,
    };

    /* Opened as the spiceport it is, under its console's name. */
    spiceport->open(chr, &be, be_opened, errp);
    g_free(port.fqdn);
}

static void spice_app_vc_set_echo(Chardev *chr, bool echo)
{
    /* The viewer's terminal echoes by itself. */
}

static void spice_app_vc_class_init(ObjectClass *oc, void *data)
{
    ChardevClass *cc = CHARDEV_CLASS(oc);

    cc->chr_set_echo = spice_app_vc_set_echo;
    cc->open = spice_app_vc_open;
    cc->parse = spice_app_vc_parse;
}

/* A spiceport whose name comes from the console it stands for. */
static const TypeInfo spice_app_vc_type = {
    .name = TYPE_CHARDEV_SPICE_APP_VC,
    .parent = TYPE_CHARDEV_SPICEPORT,
    .class_init = spice_app_vc_class_init,
};

/* ---- the display -------------------------------------------------------- */

static void spice_app_cleanup(void)
{
    if (app_socket) {
        unlink(app_socket);
    }
    if (app_dir_is_temp) {
        rmdir(app_dir);
    }
}

static void spice_app_make_dir(void)
{
    g_autoptr(GError) err = NULL;

    if (qemu_name) {
        app_dir = g_build_filename(g_get_user_runtime_dir(), "qemu",
                                   qemu_name, NULL);
        if (g_mkdir_with_parents(app_dir, 0700) != 0) {
            error_report("-display spice-app: cannot create %s: %s",
                         app_dir, strerror(errno));
            exit(1);
        }
        return;
    }
    app_dir = g_dir_make_tmp("qemu-spice-app-XXXXXX", &err);
    if (!app_dir) {
        error_report("-display spice-app: cannot create a directory for "
                     "the socket: %s", err->message);
        exit(1);
    }
    app_dir_is_temp = true;
}

static void spice_app_early_init(DisplayOptions *opts)
{
    QemuOptsList *list = qemu_find_opts("spice");
    QemuOpts *spice;
    bool gl = opts->has_gl && opts->gl != DISPLAY_GL_MODE_OFF;

    if (opts->has_full_screen) {
        error_report("-display spice-app: full-screen is not supported; "
                     "the viewer decides");
        exit(1);
    }
    if (opts->has_window_close) {
        error_report("-display spice-app: window-close is not supported; "
                     "the viewer decides");
        exit(1);
    }
    if (!list) {
        error_report("-display spice-app: this QEMU has no SPICE support");
        exit(1);
    }

    spice_app_make_dir();
    app_socket = g_build_filename(app_dir, "spice.sock", NULL);
    atexit(spice_app_cleanup);

    /* Our console chardevs, before the console code registers its own. */
    type_register_static(&spice_app_vc_type);

    spice = qemu_opts_create(list, NULL, 0, &error_abort);
    qemu_opt_set(spice, "unix", "on", &error_abort);
    qemu_opt_set(spice, "addr", app_socket, &error_abort);
    qemu_opt_set(spice, "disable-ticketing", "on", &error_abort);
    qemu_opt_set(spice, "image-compression", "off", &error_abort);
    qemu_opt_set(spice, "streaming-video", "off", &error_abort);
    qemu_opt_set(spice, "gl", gl ? "on" : "off", &error_abort);
#ifdef CONFIG_OPENGL
    display_opengl = gl;
#endif
}

static void spice_app_init(DisplayState *ds, DisplayOptions *opts)
{
    ChardevSpicePort port = { .fqdn = (char *)"org.qemu.monitor.qmp.0" };
    ChardevBackend be = {
        .type = CHARDEV_BACKEND_KIND_SPICEPORT,
        .u.spiceport.data = &port,
    };
    g_autoptr(GError) err = NULL;
    g_autofree char *uri = NULL;
    Chardev *chr;

    chr = qemu_chardev_new("org.qemu.monitor.qmp", TYPE_CHARDEV_SPICEPORT,
                           &be, NULL, &error_fatal);
    monitor_init_qmp(chr, false, &error_fatal);

    uri = g_strdup_printf("spice+unix://%s", app_socket);
    info_report("Launching display with URI: %s", uri);
    if (!g_app_info_launch_default_for_uri(uri, NULL, &err)) {
        error_report("-display spice-app: cannot start a viewer for %s: %s",
                     uri, err->message);
        error_printf("A SPICE viewer that handles spice+unix:// URIs is "
                     "needed, such as virt-viewer 8.0 or later.\n");
        exit(1);
    }
}

/* Text consoles are "vc" chardevs, which become SPICE ports (above). */
static QemuDisplay spice_app_display = {
    .type       = DISPLAY_TYPE_SPICE_APP,
    .vc         = "vc",
    .early_init = spice_app_early_init,
    .init       = spice_app_init,
};

static void spice_app_register(void)
{
    qemu_display_register(&spice_app_display);
}
type_init(spice_app_register);

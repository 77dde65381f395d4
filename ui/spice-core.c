/*
 * QEMU's SPICE binding: the -spice options, the spice-server instance and
 * its core interface, and what QMP and HMP ask of SPICE.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * One spice-server per QEMU.  -spice creates it in qemu_spice_init(), early
 * in startup, with every option checked first: a bad value ends QEMU with
 * an error that names the option and the values it accepts.  Without
 * -spice, the first QXL device makes a server that does not listen, only
 * to render QXL for other displays (VNC, screendump).
 *
 * spice-server runs on QEMU's main loop: its timers are QEMU timers and
 * its sockets are main-loop fd handlers.  Channel events can come from
 * spice-server's worker threads too; they are queued and turned into QMP
 * events (SPICE_CONNECTED, SPICE_INITIALIZED, SPICE_DISCONNECTED) and into
 * the channel list of query-spice in the main loop, in the order they
 * happened, without the worker ever waiting for the BQL.
 */

#include "qemu/osdep.h"
#include <spice.h>

#include "qemu/error-report.h"
#include "qemu/lockable.h"
#include "qemu/main-loop.h"
#include "qemu/module.h"
#include "qemu/option.h"
#include "qemu/queue.h"
#include "qemu/sockets.h"
#include "qemu/thread.h"
#include "qemu/timer.h"
#include "qapi/error.h"
#include "qapi/qapi-commands-ui.h"
#include "qapi/qapi-events-ui.h"
#include "crypto/secret_common.h"
#include "migration/misc.h"
#include "system/runstate.h"
#include "system/system.h"
#include "ui/console.h"
#include "ui/qemu-spice.h"
#include "ui/spice-display.h"
#ifdef HAVE_SPICE_GL
#include "ui/egl-helpers.h"
#endif
#include "trace.h"

/* The file names -spice x509-dir=DIR stands for (as for -vnc). */
#define SPICE_X509_CA_CERT     "ca-cert.pem"
#define SPICE_X509_SERVER_CERT "server-cert.pem"
#define SPICE_X509_SERVER_KEY  "server-key.pem"

static SpiceServer *spice_server;
/* "spice" (tickets), "sasl" or "none": query-spice and SPICE_INITIALIZED. */
static const char *spice_auth = "spice";
static bool spice_running;
static bool spice_migrated;
static bool spice_migration_target;
static bool spice_vmstate_handler_added;

/* ---- timers and watches on the main loop --------------------------------- */

struct SpiceTimer {
    QEMUTimer timer;
};

static SpiceTimer *core_timer_add(SpiceTimerFunc func, void *opaque)
{
    SpiceTimer *t = g_new0(SpiceTimer, 1);

    timer_init_ms(&t->timer, QEMU_CLOCK_REALTIME, func, opaque);
    return t;
}

static void core_timer_start(SpiceTimer *t, uint32_t ms)
{
    timer_mod(&t->timer, qemu_clock_get_ms(QEMU_CLOCK_REALTIME) + ms);
}

static void core_timer_cancel(SpiceTimer *t)
{
    timer_del(&t->timer);
}

static void core_timer_remove(SpiceTimer *t)
{
    timer_del(&t->timer);
    g_free(t);
}

struct SpiceWatch {
    int fd;
    SpiceWatchFunc func;
    void *opaque;
};

static void core_watch_readable(void *opaque)
{
    SpiceWatch *w = opaque;

    w->func(w->fd, SPICE_WATCH_EVENT_READ, w->opaque);
}

static void core_watch_writable(void *opaque)
{
    SpiceWatch *w = opaque;

    w->func(w->fd, SPICE_WATCH_EVENT_WRITE, w->opaque);
}

static void core_watch_update_mask(SpiceWatch *w, int mask)
{
    qemu_set_fd_handler(w->fd,
                        mask & SPICE_WATCH_EVENT_READ ?
                        core_watch_readable : NULL,
                        mask & SPICE_WATCH_EVENT_WRITE ?
                        core_watch_writable : NULL,
                        w);
}

static SpiceWatch *core_watch_add(int fd, int mask, SpiceWatchFunc func,
                                  void *opaque)
{
    SpiceWatch *w = g_new0(SpiceWatch, 1);

    w->fd = fd;
    w->func = func;
    w->opaque = opaque;
    core_watch_update_mask(w, mask);
    return w;
}

static void core_watch_remove(SpiceWatch *w)
{
    qemu_set_fd_handler(w->fd, NULL, NULL, NULL);
    g_free(w);
}

/* ---- channel events ------------------------------------------------------ */

/* One end of a channel's connection, as QMP shows it. */
typedef struct SpiceEnd {
    char *host;
    char *port;
    NetworkAddressFamily family;
} SpiceEnd;

/*
 * A channel event, copied out of spice-server's SpiceChannelEventInfo when
 * it happens.  spice-server keeps one info per channel for the channel's
 * life: its address (@key) names the channel until DISCONNECTED.
 */
typedef struct SpiceChannelRec {
    const void *key;
    int event;
    SpiceEnd server, client;
    int connection_id;
    int type;
    int id;
    bool tls;
    QTAILQ_ENTRY(SpiceChannelRec) next;
} SpiceChannelRec;

/* Events not yet handled (any thread, under spice_events_lock). */
static QemuMutex spice_events_lock;
static QTAILQ_HEAD(, SpiceChannelRec) spice_events =
    QTAILQ_HEAD_INITIALIZER(spice_events);
static QEMUBH *spice_events_bh;
/* Channels initialized and not disconnected (main loop). */
static QTAILQ_HEAD(, SpiceChannelRec) spice_channels =
    QTAILQ_HEAD_INITIALIZER(spice_channels);

static void spice_end_set(SpiceEnd *end, const struct sockaddr_storage *ss,
                          socklen_t len)
{
    char host[NI_MAXHOST] = "", port[NI_MAXSERV] = "";

    end->family = inet_netfamily(ss->ss_family);
    if (ss->ss_family == AF_UNIX) {
        const struct sockaddr_un *un = (const struct sockaddr_un *)ss;

        /* A client's end is usually unnamed: then the host is empty. */
        if (len > offsetof(struct sockaddr_un, sun_path)) {
            g_strlcpy(host, un->sun_path, MIN(sizeof(host),
                      len - offsetof(struct sockaddr_un, sun_path) + 1));
        }
    } else if (getnameinfo((const struct sockaddr *)ss, len,
                           host, sizeof(host), port, sizeof(port),
                           NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
        host[0] = port[0] = '\0';
    }
    end->host = g_strdup(host);
    end->port = g_strdup(port);
}

static void spice_channel_rec_free(SpiceChannelRec *rec)
{
    g_free(rec->server.host);
    g_free(rec->server.port);
    g_free(rec->client.host);
    g_free(rec->client.port);
    g_free(rec);
}

static SpiceBasicInfo *spice_end_to_qapi(const SpiceEnd *end)
{
    SpiceBasicInfo *b = g_new0(SpiceBasicInfo, 1);

    b->host = g_strdup(end->host);
    b->port = g_strdup(end->port);
    b->family = end->family;
    return b;
}

static SpiceChannel *spice_channel_to_qapi(const SpiceChannelRec *rec)
{
    SpiceChannel *c = g_new0(SpiceChannel, 1);

    c->host = g_strdup(rec->client.host);
    c->port = g_strdup(rec->client.port);
    c->family = rec->client.family;
    c->connection_id = rec->connection_id;
    c->channel_type = rec->type;
    c->channel_id = rec->id;
    c->tls = rec->tls;
    return c;
}

/* Main loop, BQL held: one event to QMP and the channel list. */
static void spice_channel_event_handle(SpiceChannelRec *rec)
{
    g_autoptr(SpiceBasicInfo) server = spice_end_to_qapi(&rec->server);
    g_autoptr(SpiceBasicInfo) client = spice_end_to_qapi(&rec->client);
    SpiceChannelRec *old;

    trace_spice_channel_event(rec->event, rec->type, rec->id,
                              rec->connection_id, rec->client.host,
                              rec->client.port);
    switch (rec->event) {
    case SPICE_CHANNEL_EVENT_CONNECTED:
        qapi_event_send_spice_connected(server, client);
        break;
    case SPICE_CHANNEL_EVENT_INITIALIZED: {
        g_autoptr(SpiceServerInfo) sinfo = g_new0(SpiceServerInfo, 1);
        g_autoptr(SpiceChannel) channel = spice_channel_to_qapi(rec);

        sinfo->host = g_strdup(rec->server.host);
        sinfo->port = g_strdup(rec->server.port);
        sinfo->family = rec->server.family;
        sinfo->auth = g_strdup(spice_auth);
        qapi_event_send_spice_initialized(sinfo, channel);
        QTAILQ_INSERT_TAIL(&spice_channels, rec, next);
        return;
    }
    case SPICE_CHANNEL_EVENT_DISCONNECTED:
        QTAILQ_FOREACH(old, &spice_channels, next) {
            if (old->key == rec->key) {
                QTAILQ_REMOVE(&spice_channels, old, next);
                spice_channel_rec_free(old);
                break;
            }
        }
        qapi_event_send_spice_disconnected(server, client);
        break;
    }
    spice_channel_rec_free(rec);
}

/* Main loop, BQL held: every queued event, oldest first. */
static void spice_channel_events_drain(void *opaque)
{
    SpiceChannelRec *rec;

    for (;;) {
        WITH_QEMU_LOCK_GUARD(&spice_events_lock) {
            rec = QTAILQ_FIRST(&spice_events);
            if (rec) {
                QTAILQ_REMOVE(&spice_events, rec, next);
            }
        }
        if (!rec) {
            return;
        }
        spice_channel_event_handle(rec);
    }
}

/*
 * Any thread.  The event is copied and queued; the main loop handles the
 * queue right away when this thread holds the BQL, else from a BH.
 */
static void core_channel_event(int event, SpiceChannelEventInfo *info)
{
    SpiceChannelRec *rec;

    if (event != SPICE_CHANNEL_EVENT_CONNECTED &&
        event != SPICE_CHANNEL_EVENT_INITIALIZED &&
        event != SPICE_CHANNEL_EVENT_DISCONNECTED) {
        return;
    }
    rec = g_new0(SpiceChannelRec, 1);
    rec->key = info;
    rec->event = event;
    rec->connection_id = info->connection_id;
    rec->type = info->type;
    rec->id = info->id;
    rec->tls = info->flags & SPICE_CHANNEL_EVENT_FLAG_TLS;
    if (info->flags & SPICE_CHANNEL_EVENT_FLAG_ADDR_EXT) {
        spice_end_set(&rec->server, &info->laddr_ext, info->llen_ext);
        spice_end_set(&rec->client, &info->paddr_ext, info->plen_ext);
    } else {
        /* spice-server >= 0.12 always gives the extended addresses. */
        rec->server = (SpiceEnd) { g_strdup(""), g_strdup(""),
                                   NETWORK_ADDRESS_FAMILY_UNKNOWN };
        rec->client = (SpiceEnd) { g_strdup(""), g_strdup(""),
                                   NETWORK_ADDRESS_FAMILY_UNKNOWN };
    }

    WITH_QEMU_LOCK_GUARD(&spice_events_lock) {
        QTAILQ_INSERT_TAIL(&spice_events, rec, next);
    }
    if (bql_locked()) {
        spice_channel_events_drain(NULL);
    } else {
        qemu_bh_schedule(spice_events_bh);
    }
}

static const SpiceCoreInterface spice_core_interface = {
    .base.type          = SPICE_INTERFACE_CORE,
    .base.description   = "qemu main loop",
    .base.major_version = SPICE_INTERFACE_CORE_MAJOR,
    .base.minor_version = SPICE_INTERFACE_CORE_MINOR,
    .timer_add          = core_timer_add,
    .timer_start        = core_timer_start,
    .timer_cancel       = core_timer_cancel,
    .timer_remove       = core_timer_remove,
    .watch_add          = core_watch_add,
    .watch_update_mask  = core_watch_update_mask,
    .watch_remove       = core_watch_remove,
    .channel_event      = core_channel_event,
};

/* ---- the server ---------------------------------------------------------- */

/* spice-server never writes to the interface; its API just is not const. */
static int spice_server_start(void)
{
    return spice_server_init(spice_server,
                             (SpiceCoreInterface *)&spice_core_interface);
}

static void spice_server_create(void)
{
    qemu_mutex_init(&spice_events_lock);
    spice_events_bh = qemu_bh_new(spice_channel_events_drain, NULL);
    spice_server = spice_server_new();
    spice_server_set_sasl_appname(spice_server, "qemu");
}

void qemu_spice_display_start(void)
{
    if (!spice_running) {
        spice_running = true;
        trace_spice_vm_start();
        spice_server_vm_start(spice_server);
    }
}

void qemu_spice_display_stop(void)
{
    if (spice_running) {
        trace_spice_vm_stop();
        spice_server_vm_stop(spice_server);
        spice_running = false;
    }
}

int qemu_spice_display_is_running(SimpleSpiceDisplay *unused)
{
    return spice_running;
}

/*
 * The workers draw while the VM runs and while it is paused by the user
 * (a client still sees the screen); they stop for migration, save,
 * shutdown and errors, where device state must not change under them.
 */
static void spice_vm_state_changed(void *opaque, bool running, RunState state)
{
    if (running) {
        qemu_spice_display_start();
    } else if (state != RUN_STATE_PAUSED) {
        qemu_spice_display_stop();
    }
}

static void spice_follow_vm_state(void)
{
    if (!spice_vmstate_handler_added) {
        spice_vmstate_handler_added = true;
        qemu_add_vm_change_state_handler(spice_vm_state_changed, NULL);
    }
}

void qemu_spice_display_init_done(void)
{
    if (runstate_is_running()) {
        qemu_spice_display_start();
    }
    spice_follow_vm_state();
}

/* ---- -spice options ------------------------------------------------------ */

/*
 * The order is that of stock QEMU 10.0 built with OpenGL (Debian's
 * package): query-command-line-options lists them in this order, and
 * libvirt probes for gl and rendernode there.
 */
static QemuOptsList qemu_spice_opts = {
    .name = "spice",
    .head = QTAILQ_HEAD_INITIALIZER(qemu_spice_opts.head),
    .merge_lists = true,
    .desc = {
        { .name = "port",                    .type = QEMU_OPT_NUMBER },
        { .name = "tls-port",                .type = QEMU_OPT_NUMBER },
        { .name = "addr",                    .type = QEMU_OPT_STRING },
        { .name = "ipv4",                    .type = QEMU_OPT_BOOL },
        { .name = "ipv6",                    .type = QEMU_OPT_BOOL },
        { .name = "unix",                    .type = QEMU_OPT_BOOL },
        { .name = "password-secret",         .type = QEMU_OPT_STRING },
        { .name = "disable-ticketing",       .type = QEMU_OPT_BOOL },
        { .name = "disable-copy-paste",      .type = QEMU_OPT_BOOL },
        { .name = "disable-agent-file-xfer", .type = QEMU_OPT_BOOL },
        { .name = "sasl",                    .type = QEMU_OPT_BOOL },
        { .name = "x509-dir",                .type = QEMU_OPT_STRING },
        { .name = "x509-key-file",           .type = QEMU_OPT_STRING },
        { .name = "x509-key-password",       .type = QEMU_OPT_STRING },
        { .name = "x509-cert-file",          .type = QEMU_OPT_STRING },
        { .name = "x509-cacert-file",        .type = QEMU_OPT_STRING },
        { .name = "x509-dh-key-file",        .type = QEMU_OPT_STRING },
        { .name = "tls-ciphers",             .type = QEMU_OPT_STRING },
        { .name = "tls-channel",             .type = QEMU_OPT_STRING },
        { .name = "plaintext-channel",       .type = QEMU_OPT_STRING },
        { .name = "image-compression",       .type = QEMU_OPT_STRING },
        { .name = "jpeg-wan-compression",    .type = QEMU_OPT_STRING },
        { .name = "zlib-glz-wan-compression", .type = QEMU_OPT_STRING },
        { .name = "streaming-video",         .type = QEMU_OPT_STRING },
        { .name = "agent-mouse",             .type = QEMU_OPT_BOOL },
        { .name = "playback-compression",    .type = QEMU_OPT_BOOL },
        { .name = "seamless-migration",      .type = QEMU_OPT_BOOL },
        { .name = "display",                 .type = QEMU_OPT_STRING },
        { .name = "head",                    .type = QEMU_OPT_NUMBER },
        { .name = "gl",                      .type = QEMU_OPT_BOOL },
        { .name = "rendernode",              .type = QEMU_OPT_STRING },
        { /* end of list */ }
    },
};

typedef struct SpiceChoice {
    const char *name;
    int value;
} SpiceChoice;

static const SpiceChoice spice_image_compressions[] = {
    { "auto_glz", SPICE_IMAGE_COMPRESSION_AUTO_GLZ },
    { "auto_lz",  SPICE_IMAGE_COMPRESSION_AUTO_LZ },
    { "quic",     SPICE_IMAGE_COMPRESSION_QUIC },
    { "glz",      SPICE_IMAGE_COMPRESSION_GLZ },
    { "lz",       SPICE_IMAGE_COMPRESSION_LZ },
    { "off",      SPICE_IMAGE_COMPRESSION_OFF },
    { NULL }
};

static const SpiceChoice spice_wan_compressions[] = {
    { "auto",   SPICE_WAN_COMPRESSION_AUTO },
    { "never",  SPICE_WAN_COMPRESSION_NEVER },
    { "always", SPICE_WAN_COMPRESSION_ALWAYS },
    { NULL }
};

static const SpiceChoice spice_video_streamings[] = {
    { "off",    SPICE_STREAM_VIDEO_OFF },
    { "all",    SPICE_STREAM_VIDEO_ALL },
    { "filter", SPICE_STREAM_VIDEO_FILTER },
    { NULL }
};

/* The channel names spice-server 0.15 knows, for tls-/plaintext-channel. */
static const char *const spice_channel_names[] = {
    "default", "main", "display", "inputs", "cursor", "playback", "record",
    "smartcard", "usbredir", "port", "webdav", NULL
};

static char *spice_names_list(const char *const *names, size_t stride)
{
    GString *s = g_string_new(NULL);
    const char *const *n;

    for (n = names; *n; n = (const char *const *)((const char *)n + stride)) {
        g_string_append_printf(s, "%s%s", s->len ? ", " : "", *n);
    }
    return g_string_free(s, false);
}

/* -spice OPT=NAME, one of @choices; @dflt when OPT is absent. */
static bool spice_opt_choice(QemuOpts *opts, const char *opt,
                             const SpiceChoice *choices, int dflt,
                             int *value, Error **errp)
{
    const char *str = qemu_opt_get(opts, opt);
    g_autofree char *names = NULL;
    const SpiceChoice *c;

    *value = dflt;
    if (!str) {
        return true;
    }
    for (c = choices; c->name; c++) {
        if (strcmp(c->name, str) == 0) {
            *value = c->value;
            return true;
        }
    }
    names = spice_names_list(&choices->name, sizeof(*choices));
    error_setg(errp, "-spice %s=%s: invalid value; accepted values: %s",
               opt, str, names);
    return false;
}

/* -spice OPT=N for a TCP port; 0 when absent. */
static bool spice_opt_port(QemuOpts *opts, const char *opt, int *port,
                           Error **errp)
{
    uint64_t n = qemu_opt_get_number(opts, opt, 0);

    if (n > 65535) {
        error_setg(errp, "-spice %s=%s: invalid port; accepted values: "
                   "0 to 65535", opt, qemu_opt_get(opts, opt));
        return false;
    }
    *port = n;
    return true;
}

static bool spice_file_readable(const char *opt, const char *path,
                                Error **errp)
{
    if (access(path, R_OK) != 0) {
        error_setg_errno(errp, errno, "-spice %s: cannot read '%s'",
                         opt, path);
        return false;
    }
    return true;
}

/* x509 file OPT: its own option, or NAME in x509-dir (default "."). */
static char *spice_x509_file(QemuOpts *opts, const char *opt,
                             const char *name, Error **errp)
{
    const char *dir = qemu_opt_get(opts, "x509-dir") ?: ".";
    const char *file = qemu_opt_get(opts, opt);
    char *path = file ? g_strdup(file) : g_build_filename(dir, name, NULL);

    if (!spice_file_readable(file ? opt : "x509-dir", path, errp)) {
        g_free(path);
        return NULL;
    }
    return path;
}

static bool spice_setup_tls(QemuOpts *opts, int tls_port, Error **errp)
{
    g_autofree char *ca = NULL, *cert = NULL, *key = NULL;
    const char *dh = qemu_opt_get(opts, "x509-dh-key-file");

    ca = spice_x509_file(opts, "x509-cacert-file", SPICE_X509_CA_CERT, errp);
    if (!ca) {
        return false;
    }
    cert = spice_x509_file(opts, "x509-cert-file", SPICE_X509_SERVER_CERT,
                           errp);
    if (!cert) {
        return false;
    }
    key = spice_x509_file(opts, "x509-key-file", SPICE_X509_SERVER_KEY, errp);
    if (!key) {
        return false;
    }
    if (dh && !spice_file_readable("x509-dh-key-file", dh, errp)) {
        return false;
    }
    if (spice_server_set_tls(spice_server, tls_port, ca, cert, key,
                             qemu_opt_get(opts, "x509-key-password"), dh,
                             qemu_opt_get(opts, "tls-ciphers")) != 0) {
        error_setg(errp, "-spice tls-port=%d: spice-server refused the TLS "
                   "settings", tls_port);
        return false;
    }
    return true;
}

static bool spice_channel_known(const char *name)
{
    const char *const *n;

    for (n = spice_channel_names; *n; n++) {
        if (strcmp(*n, name) == 0) {
            return true;
        }
    }
    return false;
}

/* tls-channel=NAME and plaintext-channel=NAME, each as often as given. */
static int spice_opt_channel(void *opaque, const char *name,
                             const char *value, Error **errp)
{
    int tls_port = *(int *)opaque;
    int security;

    if (strcmp(name, "tls-channel") == 0) {
        if (!tls_port) {
            error_setg(errp, "-spice tls-channel=%s needs tls-port", value);
            return -1;
        }
        security = SPICE_CHANNEL_SECURITY_SSL;
    } else if (strcmp(name, "plaintext-channel") == 0) {
        security = SPICE_CHANNEL_SECURITY_NONE;
    } else {
        return 0;
    }
    if (!spice_channel_known(value) ||
        spice_server_set_channel_security(spice_server,
                                          strcmp(value, "default") == 0 ?
                                          NULL : value, security) != 0) {
        g_autofree char *names = spice_names_list(spice_channel_names,
                                                  sizeof(char *));

        error_setg(errp, "-spice %s=%s: unknown channel; accepted values: %s",
                   name, value, names);
        return -1;
    }
    return 0;
}

bool qemu_spice_opengl;

#ifdef HAVE_SPICE_GL
/* The first DRM render node, as QEMU's EGL code would pick it; or NULL. */
static char *spice_first_render_node(void)
{
    g_autoptr(GDir) dir = g_dir_open("/dev/dri", 0, NULL);
    g_autoptr(GPtrArray) nodes = g_ptr_array_new_with_free_func(g_free);
    const char *name;

    while (dir && (name = g_dir_read_name(dir))) {
        if (g_str_has_prefix(name, "renderD")) {
            g_ptr_array_add(nodes, g_strdup_printf("/dev/dri/%s", name));
        }
    }
    if (!nodes->len) {
        return NULL;
    }
    g_ptr_array_sort(nodes, (GCompareFunc)g_strcmp0);
    return g_strdup(g_ptr_array_index(nodes, 0));
}
#endif

static bool spice_setup_gl(QemuOpts *opts, int port, int tls_port,
                           Error **errp)
{
#ifdef HAVE_SPICE_GL
    g_autofree char *node = NULL;
    Error *err = NULL;
    int fd;
#endif

    if (!qemu_opt_get_bool(opts, "gl", false)) {
        return true;
    }
    if (port || tls_port) {
        error_setg(errp, "-spice gl=on: SPICE OpenGL is for local clients "
                   "only (unix=on), not with port or tls-port");
        return false;
    }
#ifdef HAVE_SPICE_GL
    node = g_strdup(qemu_opt_get(opts, "rendernode"));
    if (!node) {
        node = spice_first_render_node();
        if (!node) {
            error_setg(errp, "-spice gl=on: no DRM render node "
                       "(/dev/dri/renderD*) on this machine; name one "
                       "with rendernode=");
            return false;
        }
    }
    fd = qemu_open_old(node, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        error_setg_errno(errp, errno, "-spice gl=on: cannot open render "
                         "node %s", node);
        return false;
    }
    close(fd);
    if (!egl_init(node, DISPLAY_GL_MODE_ON, &err)) {
        error_propagate_prepend(errp, err, "-spice gl=on: render node %s "
                                "is not usable for OpenGL: ", node);
        return false;
    }
    qemu_spice_opengl = true;
    return true;
#else
    error_setg(errp, "-spice gl=on: this QEMU was built without OpenGL "
               "(libepoxy and libgbm); accepted values here: gl=off");
    return false;
#endif
}

static bool spice_configure(QemuOpts *opts, Error **errp)
{
    int port, tls_port, flags = 0, value;
    const char *addr = qemu_opt_get(opts, "addr");
    const char *secret = qemu_opt_get(opts, "password-secret");
    g_autofree char *password = NULL;
    int families = 0;

    if (!spice_opt_port(opts, "port", &port, errp) ||
        !spice_opt_port(opts, "tls-port", &tls_port, errp)) {
        return false;
    }
    if (qemu_opt_get_bool(opts, "ipv4", false)) {
        flags = SPICE_ADDR_FLAG_IPV4_ONLY;
        families++;
    }
    if (qemu_opt_get_bool(opts, "ipv6", false)) {
        flags = SPICE_ADDR_FLAG_IPV6_ONLY;
        families++;
    }
    if (qemu_opt_get_bool(opts, "unix", false)) {
        flags = SPICE_ADDR_FLAG_UNIX_ONLY;
        families++;
        if (!addr) {
            error_setg(errp, "-spice unix=on needs addr=<socket path>");
            return false;
        }
    }
    if (families > 1) {
        error_setg(errp, "-spice: ipv4=on, ipv6=on and unix=on exclude "
                   "each other; give at most one");
        return false;
    }
    if (secret) {
        Error *err = NULL;

        password = qcrypto_secret_lookup_as_utf8(secret, &err);
        if (!password) {
            error_propagate_prepend(errp, err, "-spice password-secret=%s: ",
                                    secret);
            return false;
        }
    }
    if (!spice_setup_gl(opts, port, tls_port, errp)) {
        return false;
    }

    spice_server_set_addr(spice_server, addr ?: "", flags);
    if (port) {
        spice_server_set_port(spice_server, port);
    }
    if (tls_port && !spice_setup_tls(opts, tls_port, errp)) {
        return false;
    }
    if (qemu_opt_foreach(opts, spice_opt_channel, &tls_port, errp)) {
        return false;
    }

    if (qemu_opt_get_bool(opts, "sasl", false)) {
        if (spice_server_set_sasl(spice_server, 1) != 0) {
            error_setg(errp, "-spice sasl=on: this spice-server has no SASL "
                       "support");
            return false;
        }
        spice_auth = "sasl";
    }
    if (qemu_opt_get_bool(opts, "disable-ticketing", false)) {
        spice_server_set_noauth(spice_server);
        spice_auth = "none";
    }
    if (password && qemu_spice.set_passwd(password, false, false) != 0) {
        /* Without tickets (sasl or none) the password has no use. */
        warn_report("-spice password-secret=%s: ignored with %s "
                    "authentication", secret, spice_auth);
    }

    spice_server_set_agent_copypaste(
        spice_server, !qemu_opt_get_bool(opts, "disable-copy-paste", false));
    spice_server_set_agent_file_xfer(
        spice_server,
        !qemu_opt_get_bool(opts, "disable-agent-file-xfer", false));

    if (!spice_opt_choice(opts, "image-compression", spice_image_compressions,
                          SPICE_IMAGE_COMPRESSION_AUTO_GLZ, &value, errp)) {
        return false;
    }
    spice_server_set_image_compression(spice_server, value);
    if (!spice_opt_choice(opts, "jpeg-wan-compression",
                          spice_wan_compressions, SPICE_WAN_COMPRESSION_AUTO,
                          &value, errp)) {
        return false;
    }
    spice_server_set_jpeg_compression(spice_server, value);
    if (!spice_opt_choice(opts, "zlib-glz-wan-compression",
                          spice_wan_compressions, SPICE_WAN_COMPRESSION_AUTO,
                          &value, errp)) {
        return false;
    }
    spice_server_set_zlib_glz_compression(spice_server, value);
    if (!spice_opt_choice(opts, "streaming-video", spice_video_streamings,
                          SPICE_STREAM_VIDEO_OFF, &value, errp)) {
        return false;
    }
    spice_server_set_streaming_video(spice_server, value);

    spice_server_set_agent_mouse(
        spice_server, qemu_opt_get_bool(opts, "agent-mouse", true));
    spice_server_set_playback_compression(
        spice_server, qemu_opt_get_bool(opts, "playback-compression", true));
    spice_server_set_seamless_migration(
        spice_server, qemu_opt_get_bool(opts, "seamless-migration", false));
    spice_server_set_name(spice_server, qemu_name ?: "QEMU " QEMU_VERSION);
    spice_server_set_uuid(spice_server, qemu_uuid.data);

    if (spice_server_start() != 0) {
        error_setg(errp, "-spice: spice-server failed to start "
                   "(port=%d tls-port=%d addr=%s: address in use or "
                   "unusable TLS files?)", port, tls_port, addr ?: "");
        return false;
    }
    return true;
}

/* ---- migration ----------------------------------------------------------- */

static void spice_migrate_connect_complete(SpiceMigrateInstance *sin)
{
    /* Clients connect to the target by themselves: nothing to wait for. */
}

static void spice_migrate_end_complete(SpiceMigrateInstance *sin)
{
    spice_migrated = true;
    qapi_event_send_spice_migrate_completed();
}

static const SpiceMigrateInterface spice_migrate_sif = {
    .base.type               = SPICE_INTERFACE_MIGRATION,
    .base.description        = "qemu migration",
    .base.major_version      = SPICE_INTERFACE_MIGRATION_MAJOR,
    .base.minor_version      = SPICE_INTERFACE_MIGRATION_MINOR,
    .migrate_connect_complete = spice_migrate_connect_complete,
    .migrate_end_complete    = spice_migrate_end_complete,
};

static SpiceMigrateInstance spice_migrate_sin = {
    .base.sif = &spice_migrate_sif.base,
};
static NotifierWithReturn spice_migration_notifier;

/* Clients follow a migration only after client_migrate_info named a target. */
static int spice_migration_event(NotifierWithReturn *notifier,
                                 MigrationEvent *e, Error **errp)
{
    if (!spice_migration_target) {
        return 0;
    }
    switch (e->type) {
    case MIG_EVENT_PRECOPY_SETUP:
        spice_server_migrate_start(spice_server);
        break;
    case MIG_EVENT_PRECOPY_DONE:
    case MIG_EVENT_PRECOPY_FAILED:
        spice_server_migrate_end(spice_server,
                                 e->type == MIG_EVENT_PRECOPY_DONE);
        spice_migration_target = false;
        break;
    default:
        break;
    }
    return 0;
}

int qemu_spice_migrate_info(const char *hostname, int port, int tls_port,
                            const char *cert_subject)
{
    int ret = spice_server_migrate_connect(spice_server, hostname, port,
                                           tls_port, cert_subject);

    spice_migration_target = true;
    return ret;
}

/* ---- tickets ------------------------------------------------------------- */

static char *spice_ticket;
static time_t spice_ticket_expires = TIME_MAX;

/* Give spice-server the ticket, or none once it has expired. */
static int spice_apply_ticket(bool fail_if_connected,
                              bool disconnect_if_connected)
{
    time_t now = time(NULL);
    const char *ticket = NULL;
    int lifetime = 1;

    if (now < spice_ticket_expires) {
        ticket = spice_ticket;
        /* 0 is "never" for spice-server. */
        lifetime = spice_ticket_expires == TIME_MAX ? 0 :
                   MIN(spice_ticket_expires - now, (time_t)INT_MAX);
    }
    return spice_server_set_ticket(spice_server, ticket, lifetime,
                                   fail_if_connected, disconnect_if_connected);
}

static int spice_set_passwd(const char *passwd, bool fail_if_connected,
                            bool disconnect_if_connected)
{
    if (strcmp(spice_auth, "spice") != 0) {
        return -1;
    }
    g_free(spice_ticket);
    spice_ticket = g_strdup(passwd);
    return spice_apply_ticket(fail_if_connected, disconnect_if_connected);
}

static int spice_set_pw_expire(time_t expires)
{
    spice_ticket_expires = expires;
    return spice_apply_ticket(false, false);
}

static int spice_add_client(int csock, int skipauth, int tls)
{
    return tls ? spice_server_add_ssl_client(spice_server, csock, skipauth)
               : spice_server_add_client(spice_server, csock, skipauth);
}

/* ---- query-spice --------------------------------------------------------- */

static SpiceInfo *spice_query(Error **errp)
{
    QemuOpts *opts = QTAILQ_FIRST(&qemu_spice_opts.head);
    SpiceInfo *info = g_new0(SpiceInfo, 1);
    SpiceChannelList **tail = &info->channels;
    SpiceChannelRec *rec;
    int port, tls_port;

    if (!using_spice || !opts) {
        info->enabled = false;
        return info;
    }
    info->enabled = true;
    info->migrated = spice_migrated;
    info->host = g_strdup(qemu_opt_get(opts, "addr") ?: "*");
    port = qemu_opt_get_number(opts, "port", 0);
    tls_port = qemu_opt_get_number(opts, "tls-port", 0);
    info->has_port = port != 0;
    info->port = port;
    info->has_tls_port = tls_port != 0;
    info->tls_port = tls_port;
    info->auth = g_strdup(spice_auth);
    info->compiled_version = g_strdup_printf("%d.%d.%d",
                                             SPICE_SERVER_VERSION >> 16,
                                             (SPICE_SERVER_VERSION >> 8) & 0xff,
                                             SPICE_SERVER_VERSION & 0xff);
    info->mouse_mode = spice_server_is_server_mouse(spice_server) ?
                       SPICE_QUERY_MOUSE_MODE_SERVER :
                       SPICE_QUERY_MOUSE_MODE_CLIENT;
    info->has_channels = true;
    QTAILQ_FOREACH(rec, &spice_channels, next) {
        QAPI_LIST_APPEND(tail, spice_channel_to_qapi(rec));
    }
    return info;
}

/* ---- interfaces ---------------------------------------------------------- */

static int spice_add_interface(SpiceBaseInstance *sin)
{
    if (!spice_server) {
        /*
         * No -spice: a QXL device still needs spice-server to render.
         * This one never listens.
         */
        spice_server_create();
        if (spice_server_start() != 0) {
            error_report("spice: spice-server failed to start");
            return -1;
        }
        spice_follow_vm_state();
    }
    return spice_server_add_interface(spice_server, sin);
}

/* Consoles that have a SPICE display (QXL or framebuffer export). */
static GSList *spice_display_consoles;

bool qemu_spice_have_display_interface(QemuConsole *con)
{
    return g_slist_find(spice_display_consoles, con) != NULL;
}

int qemu_spice_add_display_interface(QXLInstance *qxlin, QemuConsole *con)
{
    if (qemu_spice_have_display_interface(con)) {
        return -1;
    }
    qxlin->id = qemu_console_get_index(con);
    spice_display_consoles = g_slist_append(spice_display_consoles, con);
    return spice_add_interface(&qxlin->base);
}

/* ---- startup ------------------------------------------------------------- */

static void spice_init(void)
{
    QemuOpts *opts = QTAILQ_FIRST(&qemu_spice_opts.head);
    Error *err = NULL;

    if (!opts) {
        return;
    }
    spice_server_create();
    if (!spice_configure(opts, &err)) {
        error_report_err(err);
        exit(1);
    }
    using_spice = 1;
    trace_spice_init(spice_auth);

    migration_add_notifier(&spice_migration_notifier, spice_migration_event);
    spice_server_add_interface(spice_server, &spice_migrate_sin.base);
    qemu_spice_input_init();
}

static struct QemuSpiceOps spice_ops = {
    .init               = spice_init,
    .display_init       = qemu_spice_display_init,
    .migrate_info       = qemu_spice_migrate_info,
    .set_passwd         = spice_set_passwd,
    .set_pw_expire      = spice_set_pw_expire,
    .display_add_client = spice_add_client,
    .add_interface      = spice_add_interface,
    .qmp_query          = spice_query,
};

static void spice_register(void)
{
    qemu_spice = spice_ops;
    qemu_add_opts(&qemu_spice_opts);
}
opts_init(spice_register);
module_opts("spice");
#ifdef HAVE_SPICE_GL
module_dep("ui-opengl");
#endif

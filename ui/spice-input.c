/*
 * SPICE inputs: the client's keyboard, mouse and tablet into QEMU's input
 * layer, and the guest's keyboard LEDs back to the client.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Keyboard: spice-server hands over PC scancode set 1 bytes, one at a
 * time.  0xe0 marks the next byte as an extended key; Pause comes as its
 * own 6-byte sequence without a release.
 *
 * Pointer: the mouse interface (relative motion) is always registered.
 * The tablet interface (absolute positions) is registered only while
 * QEMU's active pointer device is absolute (usb-tablet, virtio-tablet, a
 * vmmouse in absolute mode): spice-server offers the client mouse mode when
 * a tablet is registered or an agent with agent-mouse=on is connected, and
 * falls back to server mode when neither is.
 *
 * Everything here runs in the main loop with the BQL: spice-server calls
 * the input interfaces from its main channel, which runs there.
 */

#include "qemu/osdep.h"
#include <spice.h>
#include <spice/enums.h>

#include "ui/console.h"
#include "ui/input.h"
#include "ui/qemu-spice.h"
#include "trace.h"

/* ---- keyboard ------------------------------------------------------------ */

#define SC_EXTENDED   0xe0
#define SC_RELEASE    0x80

typedef struct SpiceKbd {
    SpiceKbdInstance sin;
    uint8_t leds;           /* SPICE_KEYBOARD_MODIFIER_FLAGS_* */
    bool extended;          /* the previous byte was 0xe0 */
    unsigned pause_len;     /* bytes of the Pause sequence seen so far */
} SpiceKbd;

static const uint8_t sc_pause[] = { 0xe1, 0x1d, 0x45, 0xe1, 0x9d, 0xc5 };

static void spice_kbd_push(SpiceKbdInstance *sin, uint8_t byte)
{
    SpiceKbd *kbd = container_of(sin, SpiceKbd, sin);
    int qnum;

    if (byte == sc_pause[kbd->pause_len]) {
        if (++kbd->pause_len < ARRAY_SIZE(sc_pause)) {
            return;
        }
        /* Pause has no release code: press and release at once. */
        kbd->pause_len = 0;
        trace_spice_input_key(Q_KEY_CODE_PAUSE, true);
        qemu_input_event_send_key_qcode(NULL, Q_KEY_CODE_PAUSE, true);
        qemu_input_event_send_key_qcode(NULL, Q_KEY_CODE_PAUSE, false);
        return;
    }
    kbd->pause_len = 0;

    if (byte == SC_EXTENDED) {
        kbd->extended = true;
        return;
    }
    /* QEMU's "qnum": the set 1 code, with 0x80 for the 0xe0 prefix. */
    qnum = (byte & ~SC_RELEASE) | (kbd->extended ? 0x80 : 0);
    kbd->extended = false;
    trace_spice_input_key(qnum, !(byte & SC_RELEASE));
    qemu_input_event_send_key_number(NULL, qnum, !(byte & SC_RELEASE));
}

static uint8_t spice_kbd_get_leds(SpiceKbdInstance *sin)
{
    return container_of(sin, SpiceKbd, sin)->leds;
}

static const SpiceKbdInterface spice_kbd_sif = {
    .base.type          = SPICE_INTERFACE_KEYBOARD,
    .base.description   = "qemu keyboard",
    .base.major_version = SPICE_INTERFACE_KEYBOARD_MAJOR,
    .base.minor_version = SPICE_INTERFACE_KEYBOARD_MINOR,
    .push_scan_freg     = spice_kbd_push,
    .get_leds           = spice_kbd_get_leds,
};

/* The guest set its keyboard LEDs: tell the client. */
static void spice_kbd_leds_changed(void *opaque, int qemu_leds)
{
    SpiceKbd *kbd = opaque;
    uint8_t leds = 0;

    if (qemu_leds & QEMU_SCROLL_LOCK_LED) {
        leds |= SPICE_KEYBOARD_MODIFIER_FLAGS_SCROLL_LOCK;
    }
    if (qemu_leds & QEMU_NUM_LOCK_LED) {
        leds |= SPICE_KEYBOARD_MODIFIER_FLAGS_NUM_LOCK;
    }
    if (qemu_leds & QEMU_CAPS_LOCK_LED) {
        leds |= SPICE_KEYBOARD_MODIFIER_FLAGS_CAPS_LOCK;
    }
    trace_spice_input_leds(leds);
    kbd->leds = leds;
    spice_server_kbd_leds(&kbd->sin, leds);
}

/* ---- mouse and tablet --------------------------------------------------- */

typedef struct SpicePointer {
    SpiceMouseInstance mouse;
    SpiceTabletInstance tablet;
    bool tablet_registered;
    int width, height;      /* the tablet's logical size */
    uint32_t buttons;       /* as last sent to QEMU, spice-server's bits */
    Notifier mode_changed;
} SpicePointer;

/*
 * The button bits spice-server passes to the mouse and tablet interfaces
 * (it reorders the protocol's mask into these).
 */
static const struct {
    uint32_t bit;
    InputButton button;
} spice_buttons[] = {
    { 0x01, INPUT_BUTTON_LEFT },
    { 0x02, INPUT_BUTTON_RIGHT },
    { 0x04, INPUT_BUTTON_MIDDLE },
    { 0x40, INPUT_BUTTON_SIDE },
    { 0x80, INPUT_BUTTON_EXTRA },
};

/* Queue the buttons that changed; true if any did. */
static bool spice_pointer_buttons(SpicePointer *p, uint32_t state)
{
    uint32_t changed = state ^ p->buttons;
    size_t i;

    for (i = 0; i < ARRAY_SIZE(spice_buttons); i++) {
        if (changed & spice_buttons[i].bit) {
            qemu_input_queue_btn(NULL, spice_buttons[i].button,
                                 state & spice_buttons[i].bit);
        }
    }
    p->buttons = state;
    return changed != 0;
}

/*
 * Each wheel step is a click of the wheel "button", pressed and released,
 * so that two steps the same way are two events.  Negative is up.  True
 * if any step was queued.
 */
static bool spice_pointer_wheel(int dz)
{
    InputButton b = dz < 0 ? INPUT_BUTTON_WHEEL_UP : INPUT_BUTTON_WHEEL_DOWN;
    int steps = MIN(abs(dz), 16);
    int i;

    for (i = 0; i < steps; i++) {
        qemu_input_queue_btn(NULL, b, true);
        qemu_input_queue_btn(NULL, b, false);
    }
    return steps > 0;
}

/*
 * One sync per client event, and none for an event that changes nothing:
 * each sync costs a PS/2 mouse a packet in its 16-byte queue, and what
 * does not fit waits for the next sync.
 */
static void spice_mouse_motion(SpiceMouseInstance *sin, int dx, int dy,
                               int dz, uint32_t buttons)
{
    SpicePointer *p = container_of(sin, SpicePointer, mouse);
    bool queued = spice_pointer_buttons(p, buttons);

    trace_spice_input_motion(dx, dy, dz, buttons);
    if (dx || dy) {
        qemu_input_queue_rel(NULL, INPUT_AXIS_X, dx);
        qemu_input_queue_rel(NULL, INPUT_AXIS_Y, dy);
        queued = true;
    }
    queued |= spice_pointer_wheel(dz);
    if (queued) {
        qemu_input_event_sync();
    }
}

static void spice_mouse_buttons(SpiceMouseInstance *sin, uint32_t buttons)
{
    SpicePointer *p = container_of(sin, SpicePointer, mouse);

    if (spice_pointer_buttons(p, buttons)) {
        qemu_input_event_sync();
    }
}

static const SpiceMouseInterface spice_mouse_sif = {
    .base.type          = SPICE_INTERFACE_MOUSE,
    .base.description   = "qemu mouse",
    .base.major_version = SPICE_INTERFACE_MOUSE_MAJOR,
    .base.minor_version = SPICE_INTERFACE_MOUSE_MINOR,
    .motion             = spice_mouse_motion,
    .buttons            = spice_mouse_buttons,
};

static void spice_tablet_set_size(SpiceTabletInstance *sin, int w, int h)
{
    SpicePointer *p = container_of(sin, SpicePointer, tablet);

    /* A client may announce nonsense; keep a usable scale. */
    p->width = MAX(w, 16);
    p->height = MAX(h, 16);
}

static void spice_tablet_position(SpiceTabletInstance *sin, int x, int y,
                                  uint32_t buttons)
{
    SpicePointer *p = container_of(sin, SpicePointer, tablet);

    trace_spice_input_position(x, y, p->width, p->height, buttons);
    spice_pointer_buttons(p, buttons);
    qemu_input_queue_abs(NULL, INPUT_AXIS_X, x, 0, p->width);
    qemu_input_queue_abs(NULL, INPUT_AXIS_Y, y, 0, p->height);
    qemu_input_event_sync();
}

static void spice_tablet_wheel(SpiceTabletInstance *sin, int dz,
                               uint32_t buttons)
{
    SpicePointer *p = container_of(sin, SpicePointer, tablet);
    bool queued = spice_pointer_buttons(p, buttons);

    if (spice_pointer_wheel(dz) || queued) {
        qemu_input_event_sync();
    }
}

static void spice_tablet_buttons(SpiceTabletInstance *sin, uint32_t buttons)
{
    SpicePointer *p = container_of(sin, SpicePointer, tablet);

    if (spice_pointer_buttons(p, buttons)) {
        qemu_input_event_sync();
    }
}

static const SpiceTabletInterface spice_tablet_sif = {
    .base.type          = SPICE_INTERFACE_TABLET,
    .base.description   = "qemu tablet",
    .base.major_version = SPICE_INTERFACE_TABLET_MAJOR,
    .base.minor_version = SPICE_INTERFACE_TABLET_MINOR,
    .set_logical_size   = spice_tablet_set_size,
    .position           = spice_tablet_position,
    .wheel              = spice_tablet_wheel,
    .buttons            = spice_tablet_buttons,
};

/* QEMU's active pointer changed: offer a tablet only for an absolute one. */
static void spice_pointer_mode_changed(Notifier *n, void *data)
{
    SpicePointer *p = container_of(n, SpicePointer, mode_changed);
    bool absolute = qemu_input_is_absolute(NULL);

    if (absolute == p->tablet_registered) {
        return;
    }
    trace_spice_input_tablet(absolute);
    if (absolute) {
        p->tablet_registered =
            qemu_spice.add_interface(&p->tablet.base) == 0;
    } else {
        spice_server_remove_interface(&p->tablet.base);
        p->tablet_registered = false;
    }
}

void qemu_spice_input_init(void)
{
    SpiceKbd *kbd = g_new0(SpiceKbd, 1);
    SpicePointer *p = g_new0(SpicePointer, 1);

    kbd->sin.base.sif = &spice_kbd_sif.base;
    qemu_spice.add_interface(&kbd->sin.base);
    qemu_add_led_event_handler(spice_kbd_leds_changed, kbd);

    p->mouse.base.sif = &spice_mouse_sif.base;
    p->tablet.base.sif = &spice_tablet_sif.base;
    p->width = p->height = 16;
    qemu_spice.add_interface(&p->mouse.base);
    p->mode_changed.notify = spice_pointer_mode_changed;
    qemu_add_mouse_mode_change_notifier(&p->mode_changed);
    spice_pointer_mode_changed(&p->mode_changed, NULL);
}

/*
 * -audiodev spice: the guest's sound to the SPICE client's playback
 * channel, and the client's microphone (record channel) to the guest.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * spice-server works in frames of its own: 16-bit stereo samples at the
 * rate it prefers (48 kHz when it has Opus).  There is no device clock, so
 * QEMU's audio rate control (RateCtl, on the virtual clock) paces both
 * directions: playback takes what the guest played at that rate, record
 * gives the guest that much, filling with silence while the client sends
 * nothing (no client, or one that does not record) so the guest's stream
 * never stalls.
 *
 * Playback uses QEMU's generic output buffer: the mixer fills it, and
 * spice_out_write() moves what the rate allows into spice-server frames,
 * one frame at a time, handing each over when full.  With no client
 * spice-server has no frame to give and the sound is dropped.
 *
 * All of this runs in the main loop with the BQL.
 */

#include "qemu/osdep.h"
#include "qemu/module.h"
#include "qapi/error.h"
#include "ui/qemu-spice.h"

#define AUDIO_CAP "spice"
#include "audio.h"
#include "audio_int.h"
#include "trace.h"

/* Bytes of one spice-server sample: 2 channels of 16 bits. */
#define SPICE_SAMPLE_BYTES 4
/* Samples in QEMU's buffer of each voice: 40 ms at 48 kHz. */
#define SPICE_VOICE_SAMPLES (480 * 4)

typedef struct SpiceOut {
    HWVoiceOut hw;
    SpicePlaybackInstance sin;
    RateCtl rate;
    bool started;
    uint32_t *frame;        /* spice-server's frame being filled, or NULL */
    uint32_t frame_len;     /* its size in samples */
    uint32_t frame_used;    /* samples written into it */
} SpiceOut;

typedef struct SpiceIn {
    HWVoiceIn hw;
    SpiceRecordInstance sin;
    RateCtl rate;
    bool started;
} SpiceIn;

static const SpicePlaybackInterface spice_playback_sif = {
    .base.type          = SPICE_INTERFACE_PLAYBACK,
    .base.description   = "qemu playback",
    .base.major_version = SPICE_INTERFACE_PLAYBACK_MAJOR,
    .base.minor_version = SPICE_INTERFACE_PLAYBACK_MINOR,
};

static const SpiceRecordInterface spice_record_sif = {
    .base.type          = SPICE_INTERFACE_RECORD,
    .base.description   = "qemu record",
    .base.major_version = SPICE_INTERFACE_RECORD_MAJOR,
    .base.minor_version = SPICE_INTERFACE_RECORD_MINOR,
};

static struct audio_driver spice_audio_driver;

static void *spice_audio_init(Audiodev *dev, Error **errp)
{
    if (!using_spice) {
        error_setg(errp, "-audiodev driver=spice needs -spice");
        return NULL;
    }
    /* Any non-NULL pointer: the driver keeps no state of its own. */
    return &spice_audio_driver;
}

static void spice_audio_fini(void *opaque)
{
}

static void spice_voice_format(struct audsettings *as, uint32_t rate)
{
    as->freq = rate;
    as->nchannels = 2;
    as->fmt = AUDIO_FORMAT_S16;
    as->endianness = AUDIO_HOST_ENDIANNESS;
}

/* Guest volume 0..255 per channel to spice-server's 0..65535. */
static void spice_volume(const Volume *vol, uint16_t out[2])
{
    out[0] = vol->vol[0] * 257;
    out[1] = (vol->channels > 1 ? vol->vol[1] : vol->vol[0]) * 257;
}

/* ---- playback --------------------------------------------------------- */

static int spice_out_init(HWVoiceOut *hw, struct audsettings *as, void *drv)
{
    SpiceOut *out = container_of(hw, SpiceOut, hw);
    struct audsettings fmt;

    spice_voice_format(&fmt, spice_server_get_best_playback_rate(NULL));
    audio_pcm_init_info(&hw->info, &fmt);
    hw->samples = SPICE_VOICE_SAMPLES;
    out->sin.base.sif = &spice_playback_sif.base;
    if (qemu_spice.add_interface(&out->sin.base) != 0) {
        return -1;
    }
    spice_server_set_playback_rate(&out->sin, fmt.freq);
    trace_spice_audio_init("playback", fmt.freq);
    return 0;
}

static void spice_out_fini(HWVoiceOut *hw)
{
    SpiceOut *out = container_of(hw, SpiceOut, hw);

    spice_server_remove_interface(&out->sin.base);
}

/* Hand the current frame over, the rest of it silent. */
static void spice_out_flush(SpiceOut *out)
{
    if (!out->frame) {
        return;
    }
    memset(out->frame + out->frame_used, 0,
           (out->frame_len - out->frame_used) * SPICE_SAMPLE_BYTES);
    spice_server_playback_put_samples(&out->sin, out->frame);
    out->frame = NULL;
}

static size_t spice_out_write(HWVoiceOut *hw, void *buf, size_t size)
{
    SpiceOut *out = container_of(hw, SpiceOut, hw);
    size_t len = audio_rate_get_bytes(&out->rate, &hw->info, size);
    const uint8_t *src = buf;
    size_t left = len / SPICE_SAMPLE_BYTES;

    while (left) {
        uint32_t n;

        if (!out->frame) {
            spice_server_playback_get_buffer(&out->sin, &out->frame,
                                             &out->frame_len);
            out->frame_used = 0;
            if (!out->frame || !out->frame_len) {
                /* No client listening: the sound is lost, time goes on. */
                out->frame = NULL;
                break;
            }
        }
        n = MIN(left, out->frame_len - out->frame_used);
        memcpy(out->frame + out->frame_used, src, n * SPICE_SAMPLE_BYTES);
        out->frame_used += n;
        src += n * SPICE_SAMPLE_BYTES;
        left -= n;
        if (out->frame_used == out->frame_len) {
            spice_server_playback_put_samples(&out->sin, out->frame);
            out->frame = NULL;
        }
    }
    return len;
}

static void spice_out_enable(HWVoiceOut *hw, bool enable)
{
    SpiceOut *out = container_of(hw, SpiceOut, hw);

    if (enable == out->started) {
        return;
    }
    out->started = enable;
    trace_spice_audio_enable("playback", enable);
    if (enable) {
        audio_rate_start(&out->rate);
        spice_server_playback_start(&out->sin);
    } else {
        spice_out_flush(out);
        spice_server_playback_stop(&out->sin);
    }
}

static void spice_out_volume(HWVoiceOut *hw, Volume *vol)
{
    SpiceOut *out = container_of(hw, SpiceOut, hw);
    uint16_t v[2];

    spice_volume(vol, v);
    trace_spice_audio_volume("playback", v[0], v[1], vol->mute);
    spice_server_playback_set_volume(&out->sin, 2, v);
    spice_server_playback_set_mute(&out->sin, vol->mute);
}

/* ---- record ------------------------------------------------------------ */

static int spice_in_init(HWVoiceIn *hw, struct audsettings *as, void *drv)
{
    SpiceIn *in = container_of(hw, SpiceIn, hw);
    struct audsettings fmt;

    spice_voice_format(&fmt, spice_server_get_best_record_rate(NULL));
    audio_pcm_init_info(&hw->info, &fmt);
    hw->samples = SPICE_VOICE_SAMPLES;
    in->sin.base.sif = &spice_record_sif.base;
    if (qemu_spice.add_interface(&in->sin.base) != 0) {
        return -1;
    }
    spice_server_set_record_rate(&in->sin, fmt.freq);
    trace_spice_audio_init("record", fmt.freq);
    return 0;
}

static void spice_in_fini(HWVoiceIn *hw)
{
    SpiceIn *in = container_of(hw, SpiceIn, hw);

    spice_server_remove_interface(&in->sin.base);
}

static size_t spice_in_read(HWVoiceIn *hw, void *buf, size_t size)
{
    SpiceIn *in = container_of(hw, SpiceIn, hw);
    size_t want = MIN(audio_rate_peek_bytes(&in->rate, &hw->info), size) /
                  SPICE_SAMPLE_BYTES;
    size_t got = spice_server_record_get_samples(&in->sin, buf, want);

    if (got == 0) {
        /* Nothing from the client: silence, so the guest keeps going. */
        memset(buf, 0, want * SPICE_SAMPLE_BYTES);
        got = want;
    }
    audio_rate_add_bytes(&in->rate, got * SPICE_SAMPLE_BYTES);
    return got * SPICE_SAMPLE_BYTES;
}

static void spice_in_enable(HWVoiceIn *hw, bool enable)
{
    SpiceIn *in = container_of(hw, SpiceIn, hw);

    if (enable == in->started) {
        return;
    }
    in->started = enable;
    trace_spice_audio_enable("record", enable);
    if (enable) {
        audio_rate_start(&in->rate);
        spice_server_record_start(&in->sin);
    } else {
        spice_server_record_stop(&in->sin);
    }
}

static void spice_in_volume(HWVoiceIn *hw, Volume *vol)
{
    SpiceIn *in = container_of(hw, SpiceIn, hw);
    uint16_t v[2];

    spice_volume(vol, v);
    trace_spice_audio_volume("record", v[0], v[1], vol->mute);
    spice_server_record_set_volume(&in->sin, 2, v);
    spice_server_record_set_mute(&in->sin, vol->mute);
}

static struct audio_pcm_ops spice_pcm_ops = {
    .init_out        = spice_out_init,
    .fini_out        = spice_out_fini,
    .write           = spice_out_write,
    .run_buffer_out  = audio_generic_run_buffer_out,
    .buffer_get_free = audio_generic_buffer_get_free,
    .enable_out      = spice_out_enable,
    .volume_out      = spice_out_volume,

    .init_in         = spice_in_init,
    .fini_in         = spice_in_fini,
    .read            = spice_in_read,
    .run_buffer_in   = audio_generic_run_buffer_in,
    .enable_in       = spice_in_enable,
    .volume_in       = spice_in_volume,
};

static struct audio_driver spice_audio_driver = {
    .name           = "spice",
    .descr          = "SPICE client playback and record channels",
    .init           = spice_audio_init,
    .fini           = spice_audio_fini,
    .pcm_ops        = &spice_pcm_ops,
    .max_voices_out = 1,
    .max_voices_in  = 1,
    .voice_size_out = sizeof(SpiceOut),
    .voice_size_in  = sizeof(SpiceIn),
};

static void spice_audio_register(void)
{
    audio_driver_register(&spice_audio_driver);
}
type_init(spice_audio_register);

module_dep("ui-spice-core");

"""-audiodev spice (audio/spiceaudio.c) against real peers: the Linux guest
plays a tone on its HDA card that a spice-gtk client receives on its
playback channel; the client sends a tone on its record channel that the
guest records; the guest's mixer volume and mute reach the client, for
playback and for record.  The guest side is tests/guest/guest-io.c on the
kernel's OSS emulation (/dev/dsp) and ALSA controls."""
import array
import ctypes
import re
import os
import time

import gi
import pytest

gi.require_version("SpiceClientGLib", "2.0")
from gi.repository import GLib, GObject, SpiceClientGLib  # noqa: E402

from spice_client import SpiceProbe  # noqa: E402

ARGS = ["-vga", "qxl", "-audiodev", "spice,id=snd0",
        "-device", "ich9-intel-hda",
        "-device", "hda-duplex,audiodev=snd0",
        "-trace", "spice_audio_*"]


class Audio:
    """The client's playback and record channels."""

    def __init__(self, client):
        self.playback = self.record = None
        self.play_format = None
        self.played = bytearray()
        self.recording = None
        self.sent = 0
        self.volumes = []            # ("playback"|"record", volume, mute)
        GObject.Object.connect(client.session, "channel-new", self._new)

    def _new(self, session, channel):
        if isinstance(channel, SpiceClientGLib.PlaybackChannel):
            self.playback = channel
            GObject.Object.connect(channel, "playback-start", self._start)
            GObject.Object.connect(channel, "playback-data", self._data)
            self._follow_volume(channel, "playback")
            SpiceClientGLib.Channel.connect(channel)
        elif isinstance(channel, SpiceClientGLib.RecordChannel):
            self.record = channel
            GObject.Object.connect(channel, "record-start", self._rec_start)
            GObject.Object.connect(channel, "record-stop", self._rec_stop)
            self._follow_volume(channel, "record")
            SpiceClientGLib.Channel.connect(channel)

    def _follow_volume(self, channel, kind):
        def note(ch, pspec):
            # "volume" is a pointer to nchannels guint16.
            addr = ch.get_property("volume")
            n = ch.get_property("nchannels")
            vol = None
            if addr and n:
                vol = list(ctypes.cast(addr, ctypes.POINTER(
                    ctypes.c_uint16))[:n])
            self.volumes.append((kind, vol, ch.get_property("mute")))
        GObject.Object.connect(channel, "notify::volume", note)
        GObject.Object.connect(channel, "notify::mute", note)

    def _start(self, channel, fmt, channels, rate):
        self.play_format = (fmt, channels, rate)

    def _data(self, channel, data, size):
        self.played += ctypes.string_at(data, size)

    # A 440 Hz square wave, 48 kHz 16-bit stereo, every 20 ms while the
    # guest records.
    def _rec_start(self, channel, fmt, channels, rate):
        self.recording = (fmt, channels, rate)
        frames = rate // 50
        period = rate // 440
        samples = array.array("h")
        for i in range(frames):
            v = 10000 if (i // (period // 2)) % 2 else -10000
            samples.extend([v] * channels)
        self._chunk = samples.tobytes()
        self._buf = ctypes.create_string_buffer(self._chunk)
        self._timer = GLib.timeout_add(20, self._send)

    def _send(self):
        if self.recording is None:
            return False
        self.record.send_data(ctypes.addressof(self._buf), len(self._chunk),
                              int(time.monotonic() * 1000) & 0xffffffff)
        self.sent += len(self._chunk)
        return True

    def _rec_stop(self, channel):
        self.recording = None


def _run(vm, client, command, mark, timeout=60):
    vm.shell('%s; echo %s""DONE' % (command, mark))
    vm.wait_serial(mark + "DONE\r", timeout, pump=client.pump)


@pytest.mark.timeout(300)
def test_spice_audio_both_ways_and_volume(new_vm, logdir):
    with new_vm(ARGS) as vm:
        client = SpiceProbe(vm.spice_uri)
        # Audio channels exist only then; no audio backend plays them
        # (spice_audio_get() is never called): this test takes the data.
        client.session.set_property("enable-audio", True)
        audio = Audio(client)
        client.connect()
        vm.wait_serial("GUEST: ready", 90, pump=client.pump)
        client.wait_for(lambda: audio.playback and audio.record, 20,
                        "the playback and record channels")
        _run(vm, client, "modprobe snd_hda_codec_generic; "
             "modprobe snd_hda_intel; modprobe snd_pcm_oss; "
             "i=0; while [ ! -e /dev/dsp ] && [ $i -lt 50 ]; do "
             "sleep 0.2; i=$((i+1)); done; ls /dev/dsp", "M")

        # Playback: 2 s of 1 kHz from the guest.
        _run(vm, client, "guest-io play 2 1000", "P", timeout=90)
        client.wait_for(lambda: len(audio.played) >= 48000 * 4, 20,
                        "a second of the guest's sound")
        client.pump(1)
        fmt, channels, rate = audio.play_format
        assert (channels, rate) == (2, 48000), audio.play_format
        pcm = array.array("h", bytes(audio.played[:len(audio.played) //
                                                  4 * 4]))
        left = pcm[0::2]
        loud = [v for v in left if abs(v) > 3000]
        assert len(loud) > 48000, "the tone is not there: %d loud " \
            "samples of %d" % (len(loud), len(left))
        # The square wave's sign changes, 2000 a second where it plays.
        signs = [v > 0 for v in left if abs(v) > 3000]
        flips = sum(1 for a, b in zip(signs, signs[1:]) if a != b)
        seconds = len(loud) / 48000
        assert 1500 < flips / seconds < 2500, \
            "%d sign changes in %.1f s of tone" % (flips, seconds)

        # Record: the client's tone reaches the guest.
        _run(vm, client, "guest-io record 2", "R", timeout=90)
        m = re.search(r"GUEST: record peak (\d+) of (\d+) frames",
                      vm.serial_text)
        assert m, "guest-io record said nothing"
        assert audio.sent > 0, "the client was never asked to record"
        peak, frames = int(m.group(1)), int(m.group(2))
        assert frames >= 48000 * 2 - 4800, "%d frames recorded" % frames
        assert peak > 5000, "the guest recorded silence (peak %d)" % peak

        # Volume and mute, playback and record, from the guest's mixer.
        _run(vm, client, "guest-io controls", "C")
        controls = re.findall(r"GUEST: control '([^']+)' type (\d+) count "
                              r"(\d+) min (-?\d+) max (-?\d+)",
                              vm.serial_text)
        byname = {c[0]: c for c in controls}
        with open(os.path.join(logdir, "controls"), "w") as f:
            f.write("\n".join(str(c) for c in controls))
        play_vol = next((n for n in byname if "Playback Volume" in n), None)
        play_sw = next((n for n in byname if "Playback Switch" in n), None)
        cap_vol = next((n for n in byname if "Capture Volume" in n), None)
        cap_sw = next((n for n in byname if "Capture Switch" in n), None)
        assert play_vol and play_sw and cap_vol and cap_sw, \
            "mixer controls: %s" % list(byname)

        # spice-server tells the client at the next start of the stream:
        # set, then play (or record) a moment.
        def last(kind):
            got = [(v, m) for k, v, m in audio.volumes if k == kind and v]
            return got[-1] if got else None

        def half_volume(kind):
            v = last(kind)
            return v and not v[1] and 0 < v[0][0] < 65535 and \
                v[0][0] == v[0][1]

        vol = int(byname[play_vol][4]) // 2
        _run(vm, client, "guest-io set '%s' %d; guest-io set '%s' 1; "
             "guest-io play 1 1000" % (play_vol, vol, play_sw), "V")
        client.wait_for(lambda: half_volume("playback"), 20,
                        "the playback volume at the client")
        _run(vm, client, "guest-io set '%s' 0; guest-io play 1 1000"
             % play_sw, "W")
        client.wait_for(lambda: last("playback")[1], 20,
                        "playback muted at the client")
        vol = int(byname[cap_vol][4]) // 2
        _run(vm, client, "guest-io set '%s' %d; guest-io set '%s' 1; "
             "guest-io record 1" % (cap_vol, vol, cap_sw), "X")
        client.wait_for(lambda: half_volume("record"), 20,
                        "the record volume at the client")
        _run(vm, client, "guest-io set '%s' 0; guest-io record 1"
             % cap_sw, "Y")
        client.wait_for(lambda: last("record")[1], 20,
                        "record muted at the client")
        client.disconnect()

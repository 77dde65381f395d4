"""TLS of our SPICE binding with certificates this test makes (openssl):
a real client (spice-gtk) verifies the server against the test's CA, the
tls-channel / plaintext-channel policy decides which channel goes over
TLS (query-spice's "tls" of each channel, as stock says it), and a client
that does not trust the CA or cannot do TLS is refused."""
import os
import subprocess

import pytest

from spice_peers import (Qemu, client, free_tcp_port, main_channel_state,
                         SPICE_CHANNEL_MAIN, SPICE_CHANNEL_DISPLAY)


def _openssl(*args, cwd):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True,
                   capture_output=True)


def make_certs(d, name):
    """A CA and a server certificate for 127.0.0.1 signed by it, in x509-dir
    layout; and a second, unrelated CA."""
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "server.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\n")
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
             "-subj", "/CN=%s test CA" % name, "-keyout", "ca-key.pem",
             "-out", "ca-cert.pem", cwd=d)
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj",
             "/CN=127.0.0.1", "-keyout", "server-key.pem",
             "-out", "server.csr", cwd=d)
    _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca-cert.pem",
             "-CAkey", "ca-key.pem", "-CAcreateserial", "-days", "2",
             "-extfile", "server.ext", "-out", "server-cert.pem", cwd=d)
    other = os.path.join(d, "other")
    os.makedirs(other, exist_ok=True)
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
             "-subj", "/CN=someone else", "-keyout", "ca-key.pem",
             "-out", "ca-cert.pem", cwd=other)
    return d


def _channels_tls(q):
    return sorted((c["channel-type"], c["channel-id"], c["tls"])
                  for c in q.qmp.cmd("query-spice")["channels"])


def _session(q, port, tls_port, ca):
    """Connect, wait for the display; returns (state, channels' tls)."""
    c = client(port, tls_port=tls_port, ca_file=ca)
    state = main_channel_state(c, 20)
    chans = None
    if state == "up":
        c.wait_for(lambda: 0 in c.primaries, 30, "the display")
        c.wait_for(lambda: len(_channels_tls(q)) >= 2, 10,
                   "main and display in query-spice")
        chans = _channels_tls(q)
    c.disconnect()
    c.wait_for(lambda: not _channels_tls(q), 10, "the channels closed")
    return state, chans


def _scenario(logdir, binary, certs, ports):
    port, tls_port = ports
    ca = os.path.join(certs, "ca-cert.pem")
    other_ca = os.path.join(certs, "other", "ca-cert.pem")
    rec = {}
    base = ("addr=127.0.0.1,disable-ticketing=on,port=%d,tls-port=%d,"
            "x509-dir=%s" % (port, tls_port, certs))
    # Every channel must use TLS.
    with Qemu(logdir, binary,
              ["-vga", "std", "-spice", base + ",tls-channel=default"]) as q:
        info = q.qmp.cmd("query-spice")
        rec["query-spice"] = {k: info[k] for k in ("port", "tls-port",
                                                   "auth", "host")}
        rec["all tls"] = _session(q, port, tls_port, ca)
        rec["all tls, untrusted CA"] = _session(q, port, tls_port, other_ca)
        rec["all tls, client without TLS"] = _session(q, port, None, None)
    # main over TLS, display in clear; the rest as the client likes.
    with Qemu(logdir, binary,
              ["-vga", "std", "-spice",
               base + ",tls-channel=main,plaintext-channel=display"]) as q:
        rec["main tls, display plain"] = _session(q, port, tls_port, ca)
    # The files named one by one instead of x509-dir.
    with Qemu(logdir, binary,
              ["-vga", "std", "-spice",
               "addr=127.0.0.1,disable-ticketing=on,tls-port=%d,"
               "x509-cacert-file=%s/ca-cert.pem,"
               "x509-cert-file=%s/server-cert.pem,"
               "x509-key-file=%s/server-key.pem" % (tls_port, certs, certs,
                                                   certs)]) as q:
        rec["tls only, files"] = _session(q, None, tls_port, ca)
    return rec


@pytest.mark.timeout(240)
def test_spice_tls_certificates_and_channel_policy(build, logdir,
                                                   stock_qemu_if_given):
    name = "test_spice_tls_certificates_and_channel_policy"
    certs = make_certs(os.path.join(logdir, "pki"), name)
    ports = (free_tcp_port(), free_tcp_port())
    ours = _scenario(logdir, build.qemu, certs, ports)
    m, d = SPICE_CHANNEL_MAIN, SPICE_CHANNEL_DISPLAY
    assert ours["all tls"] == ("up", [(m, 0, True), (d, 0, True)]), ours
    assert ours["all tls, untrusted CA"][0] == "error-tls", ours
    assert ours["all tls, client without TLS"][0] != "up", ours
    assert ours["main tls, display plain"] == (
        "up", [(m, 0, True), (d, 0, False)]), ours
    assert ours["tls only, files"] == (
        "up", [(m, 0, True), (d, 0, True)]), ours
    if stock_qemu_if_given:
        stock = _scenario(logdir, stock_qemu_if_given, certs, ports)
        assert ours == stock, "ours %s\nstock %s" % (ours, stock)
    with open(os.path.join(logdir, "results"), "w") as f:
        f.write("%s\n" % ours)

#!/usr/bin/python3
"""libvirt "hosts" on one machine, for tests and for trying things by hand.

A host is a network namespace (its own addresses, loopback included) and,
inside it, a mount and UTS namespace where a folder of the host's own is
bound over each of libvirt's folders:

    /etc/libvirt        <root>/etc      libvirtd.conf, virtlogd.conf, qemu.conf
    /run/libvirt        <root>/run      sockets, domain status
    /var/lib/libvirt    <root>/lib      domain state, serial sockets
    /var/cache/libvirt  <root>/cache    libvirt's cache of QEMU's capabilities
    /var/log/libvirt    <logs>          libvirtd.log, virtlogd.log, qemu/<dom>.log

and its own virtlogd and libvirtd run there (no systemd needed).  Outside,
the host is reached through its Unix socket (Host.uri, which virsh takes
with -c) or, from inside a namespace that routes to it, over TCP
(Host.tcp_uri, qemu+tcp://ADDR/system, no authentication).

Two set-ups:
    one host    namespace with loopback only, libvirt on 127.0.0.1
    two hosts   two namespaces joined by a veth pair, 192.168.213.1 and
                192.168.213.2, each libvirtd listening on TCP there, each
                the other's migration peer (migrate with
                `virsh -c qemu+tcp://192.168.213.1/system migrate --live
                DOMAIN qemu+tcp://192.168.213.2/system`, from inside the
                first namespace).

Inside a host QEMU runs as root, without libvirt's security drivers, mount
namespaces or cgroups (qemu.conf), and /dev/kvm is hidden: this machine has
no usable KVM (domains are type='qemu'), and a /dev/kvm root can open makes
libvirt 9.0 probe the emulator again on every look-up.

Teardown destroys the running domains through libvirt (which then removes
what it made, e.g. the overlay file of a <transient/> disk), then kills every
process of the hosts' network namespaces (the daemons and the QEMUs they
started: nothing else runs there), which also ends their
mount namespaces, then deletes the network namespaces and the hosts'
folders (logs stay).  Namespaces left by a run that was killed are found by
name (lvt<pid>...) and removed by the next set-up.

By hand (as root):
    tests/integration/libvirt_hosts.py up DIR [--two]   # prints the hosts
    tests/integration/libvirt_hosts.py down DIR
"""
import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid

PREFIX = "lvt"
SUBNET = "192.168.213"
BIND = [
    ("etc", "/etc/libvirt"),
    ("run", "/run/libvirt"),
    ("lib", "/var/lib/libvirt"),
    ("cache", "/var/cache/libvirt"),
]
LOG_MOUNT = "/var/log/libvirt"


def libvirt_missing():
    """Why libvirt cannot be used here, or None."""
    for tool in ("libvirtd", "virtlogd", "virsh", "ip", "unshare", "nsenter"):
        if not shutil.which(tool, path="/usr/sbin:/usr/bin:/sbin:/bin"):
            return "%s is not installed (scripts/install-deps.sh installs " \
                   "libvirt-daemon, libvirt-daemon-driver-qemu, " \
                   "libvirt-clients)" % tool
    if not os.path.exists("/usr/lib/x86_64-linux-gnu/libvirt/connection-driver/"
                          "libvirt_driver_qemu.so"):
        return "libvirt's QEMU driver is not installed " \
               "(libvirt-daemon-driver-qemu)"
    if os.geteuid() != 0:
        return "libvirt hosts need root (namespaces, libvirtd)"
    import pwd
    try:
        pwd.getpwnam("libvirt-qemu")
    except KeyError:
        # libvirt's QEMU driver looks it up before reading qemu.conf.
        return "no user libvirt-qemu (scripts/install-deps.sh adds it)"
    return None


def _run(args, check=True, timeout=60, **kw):
    p = subprocess.run(args, capture_output=True, text=True, timeout=timeout,
                       **kw)
    if check and p.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (
            " ".join(args), p.returncode, (p.stderr or p.stdout).strip()))
    return p


def _alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def _netns_pids(ns):
    p = _run(["ip", "netns", "pids", ns], check=False)
    return [int(x) for x in p.stdout.split()] if p.returncode == 0 else []


def _kill_netns(ns, grace=5.0):
    """End every process of network namespace ns (ours: the daemons and
    their QEMUs), then delete it."""
    pids = _netns_pids(ns)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            pids = _netns_pids(ns)
            if not pids:
                break
            time.sleep(0.1)
        if not pids:
            break
    _run(["ip", "netns", "delete", ns], check=False)


def cleanup_stale():
    """Remove namespaces of earlier runs whose process is gone."""
    try:
        names = os.listdir("/run/netns")
    except FileNotFoundError:
        return
    for ns in names:
        if not ns.startswith(PREFIX):
            continue
        digits = ns[len(PREFIX):].split("-")[0]
        if digits.isdigit() and not _alive(int(digits)):
            _kill_netns(ns)


LIBC = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNET = 0x40000000


class in_netns:
    """Context manager: the calling thread (and what it starts: sockets,
    subprocesses) is in network namespace ns until the block ends.  A
    client started in the block keeps its sockets in ns afterwards, but
    connects again (e.g. when following a migration) only while in ns."""

    def __init__(self, ns):
        self.ns = ns

    def __enter__(self):
        self.saved = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        fd = os.open("/run/netns/%s" % self.ns, os.O_RDONLY)
        try:
            if LIBC.setns(fd, CLONE_NEWNET) != 0:
                err = ctypes.get_errno()
                raise OSError(err, "setns(%s): %s" % (self.ns, os.strerror(err)))
        finally:
            os.close(fd)
        return self

    def __exit__(self, *exc):
        try:
            if LIBC.setns(self.saved, CLONE_NEWNET) != 0:
                err = ctypes.get_errno()
                raise OSError(err, "setns back: %s" % os.strerror(err))
        finally:
            os.close(self.saved)


class Host:
    """One libvirt host: see the module's doc."""

    def __init__(self, name, netns, root, logdir, addr, tcp):
        self.name, self.netns, self.root = name, netns, root
        self.logdir, self.addr, self.tcp = logdir, addr, tcp
        self.uri = "qemu:///system?socket=%s/run/libvirt-sock" % root
        self.tcp_uri = "qemu+tcp://%s/system" % addr

    # -- paths -------------------------------------------------------------
    def path(self, inside):
        """The path outside of a path inside the host's libvirt folders."""
        if inside.startswith(LOG_MOUNT + "/") or inside == LOG_MOUNT:
            return self.logdir + inside[len(LOG_MOUNT):]
        for sub, mnt in BIND:
            if inside.startswith(mnt + "/") or inside == mnt:
                return os.path.join(self.root, sub) + inside[len(mnt):]
        return inside

    def domain_log(self, domain):
        return os.path.join(self.logdir, "qemu", domain + ".log")

    # -- set-up ------------------------------------------------------------
    def write_config(self):
        shutil.rmtree(self.logdir, ignore_errors=True)     # an earlier run's
        for sub, _ in BIND:
            os.makedirs(os.path.join(self.root, sub), exist_ok=True)
        os.makedirs(self.logdir, exist_ok=True)
        os.makedirs(os.path.join(self.root, "lib", "serial"), exist_ok=True)
        etc = os.path.join(self.root, "etc")
        libvirtd = [
            'listen_tls = 0',
            'auth_unix_rw = "none"',
            'auth_unix_ro = "none"',
            'host_uuid = "%s"' % uuid.uuid4(),
            # QMP traffic and migration steps, warnings from the rest.
            'log_filters = "1:qemu.qemu_monitor 1:qemu.qemu_migration"',
            'log_outputs = "1:file:%s/libvirtd.log"' % LOG_MOUNT,
            'keepalive_interval = -1',
        ]
        if self.tcp:
            libvirtd += ['listen_tcp = 1', 'auth_tcp = "none"',
                         'listen_addr = "%s"' % self.addr]
        qemu = [
            'user = "root"',
            'group = "root"',
            'dynamic_ownership = 0',
            'remember_owner = 0',
            'security_driver = "none"',
            'namespaces = [ ]',
            'cgroup_controllers = [ ]',
            'spice_listen = "%s"' % self.addr,
            'stdio_handler = "logd"',
        ]
        if self.tcp:
            # Where a source sends the migration stream (libvirt refuses a
            # loopback address here).
            qemu += ['migration_address = "%s"' % self.addr,
                     'migration_host = "%s"' % self.addr]
        virtlogd = ['log_outputs = "3:file:%s/virtlogd.log"' % LOG_MOUNT]
        for fname, lines in (("libvirtd.conf", libvirtd), ("qemu.conf", qemu),
                             ("virtlogd.conf", virtlogd)):
            with open(os.path.join(etc, fname), "w") as f:
                f.write("\n".join(lines) + "\n")
        # Its name resolves (libvirt looks itself up).
        with open(os.path.join(self.root, "hosts"), "w") as f:
            f.write("127.0.0.1 localhost\n%s %s\n" % (
                self.addr if self.tcp else "127.0.1.1", self.name))
        # A read-only regular file over /dev/kvm: access(W_OK) fails.
        nokvm = os.path.join(self.root, "nokvm")
        open(nokvm, "w").close()

    def start_daemons(self):
        binds = "".join("mount --bind %s %s\n" % (os.path.join(self.root, sub), mnt)
                        for sub, mnt in BIND)
        script = """set -e
hostname %(name)s
mount --bind %(root)s/hosts /etc/hosts
mkdir -p %(mounts)s
%(binds)smount --bind %(logdir)s %(logmnt)s
if [ -e /dev/kvm ]; then
    mount --bind %(root)s/nokvm /dev/kvm
    mount -o remount,bind,ro /dev/kvm
fi
virtlogd -d -p %(root)s/virtlogd.pid -f /etc/libvirt/virtlogd.conf
libvirtd -d %(listen)s -p %(root)s/libvirtd.pid -f /etc/libvirt/libvirtd.conf
""" % dict(name=self.name, root=self.root, binds=binds, logdir=self.logdir,
           logmnt=LOG_MOUNT, listen="--listen" if self.tcp else "",
           mounts=" ".join([m for _, m in BIND] + [LOG_MOUNT]))
        with open(os.path.join(self.root, "start.sh"), "w") as f:
            f.write(script)
        _run(["ip", "netns", "exec", self.netns, "unshare", "--mount",
              "--uts", "--propagation", "private", "/bin/sh",
              os.path.join(self.root, "start.sh")])

    def wait_ready(self, timeout=60):
        deadline = time.monotonic() + timeout
        while True:
            p = _run(["virsh", "-c", self.uri, "uri"], check=False, timeout=30)
            if p.returncode == 0:
                return
            if not self.daemon_alive("libvirtd"):
                raise RuntimeError("libvirtd of host %s exited; see "
                                   "%s/libvirtd.log" % (self.name, self.logdir))
            if time.monotonic() > deadline:
                raise RuntimeError("libvirtd of host %s not up after %ds: %s; "
                                   "see %s/libvirtd.log" % (
                                       self.name, timeout, p.stderr.strip(),
                                       self.logdir))
            time.sleep(0.2)

    def daemon_alive(self, name):
        for pid in _netns_pids(self.netns):
            try:
                with open("/proc/%d/comm" % pid) as f:
                    if f.read().strip() == name:
                        return True
            except OSError:
                pass
        return False

    # -- use ---------------------------------------------------------------
    def virsh(self, *args, check=True, timeout=120, uri=None):
        """Run virsh against this host; returns its stdout."""
        p = _run(["virsh", "-q", "-c", uri or self.uri] + list(args),
                 check=False, timeout=timeout)
        if check and p.returncode != 0:
            raise RuntimeError("virsh %s on host %s failed: %s" % (
                " ".join(args), self.name, (p.stderr or p.stdout).strip()))
        return p.stdout if check else p

    def destroy_domains(self):
        try:
            p = self.virsh("list", "--name", check=False, timeout=20)
            for name in p.stdout.split() if p.returncode == 0 else []:
                self.virsh("destroy", name, check=False, timeout=30)
        except Exception:
            pass

    def netns_run(self, args, check=True, timeout=120):
        """Run a command inside the host's network namespace."""
        return _run(["ip", "netns", "exec", self.netns] + list(args),
                    check=check, timeout=timeout)

    def __repr__(self):
        return "Host(%s, netns %s, %s, %s)" % (self.name, self.netns,
                                               self.uri, self.tcp_uri)


class Hosts:
    """One host ("a") or two ("a", "b") joined by a veth pair; a context
    manager that tears everything down on exit, also on errors.

    root: folder for the hosts' own files (short: sockets live there),
    removed on teardown; logroot: where each host's /var/log/libvirt goes
    (kept)."""

    def __init__(self, logroot, two=False, root=None):
        self.two = two
        self.tag = "%s%d-%d" % (PREFIX, os.getpid(), int(time.monotonic() * 1000) % 100000)
        self.root = root or os.path.join("/tmp", self.tag)
        self.logroot = logroot
        self.hosts = []
        self.netns = []

    def up(self):
        cleanup_stale()
        os.makedirs(self.root, exist_ok=True)
        names = ["a", "b"] if self.two else ["a"]
        try:
            for i, n in enumerate(names):
                ns = "%s-%s" % (self.tag, n)
                _run(["ip", "netns", "add", ns])
                self.netns.append(ns)
                _run(["ip", "-n", ns, "link", "set", "lo", "up"])
                addr = "%s.%d" % (SUBNET, i + 1) if self.two else "127.0.0.1"
                self.hosts.append(Host("%s-%s" % (PREFIX, n), ns,
                                       os.path.join(self.root, n),
                                       os.path.join(self.logroot, "host-" + n),
                                       addr, tcp=self.two))
            if self.two:
                a, b = self.hosts
                _run(["ip", "link", "add", "lvt0", "netns", a.netns, "type",
                      "veth", "peer", "name", "lvt0", "netns", b.netns])
                for h in self.hosts:
                    _run(["ip", "-n", h.netns, "addr", "add", h.addr + "/24",
                          "dev", "lvt0"])
                    _run(["ip", "-n", h.netns, "link", "set", "lvt0", "up"])
            self._save()
            for h in self.hosts:
                h.write_config()
                h.start_daemons()
            for h in self.hosts:
                h.wait_ready()
        except BaseException:
            self.down()
            raise
        return self

    def _save(self):
        with open(os.path.join(self.root, "hosts.json"), "w") as f:
            json.dump({"netns": self.netns, "root": self.root,
                       "hosts": [vars(h) for h in self.hosts]}, f, indent=1)

    def down(self):
        # First through libvirt, which then removes what it made outside
        # the host (e.g. the overlay of a <transient/> disk, beside the
        # image), then whatever is left.
        for h in self.hosts:
            if h.netns in self.netns:
                h.destroy_domains()
        for ns in self.netns:
            _kill_netns(ns)
        self.netns = []
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self):
        return self.up()

    def __exit__(self, *exc):
        self.down()

    def __getitem__(self, i):
        return self.hosts[i]


def main(argv):
    if len(argv) < 3 or argv[1] not in ("up", "down"):
        print(__doc__.split("By hand")[1], file=sys.stderr)
        return 2
    d = os.path.abspath(argv[2])
    if argv[1] == "up":
        why = libvirt_missing()
        if why:
            print(why, file=sys.stderr)
            return 1
        hs = Hosts(os.path.join(d, "logs"), two="--two" in argv,
                   root=os.path.join(d, "hosts"))
        hs.up()
        for h in hs.hosts:
            print("host %s: netns %s, virsh -c '%s'%s" % (
                h.name, h.netns, h.uri,
                ", or from a namespace: %s" % h.tcp_uri if h.tcp else ""))
        return 0
    try:
        with open(os.path.join(d, "hosts", "hosts.json")) as f:
            state = json.load(f)
    except FileNotFoundError:
        print("no hosts in %s" % d, file=sys.stderr)
        return 1
    for h in state["hosts"]:
        Host(**{k: h[k] for k in ("name", "netns", "root", "logdir", "addr",
                                  "tcp")}).destroy_domains()
    for ns in state["netns"]:
        _kill_netns(ns)
    shutil.rmtree(state["root"], ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

#!/usr/bin/env python3
"""Writes one OCI image layer (an uncompressed tar) to stdout, the same bytes every time for the
same tree: entries sorted by name, numeric ids, no user or group names, the files' own mtimes.

  oci-layer.py tree ROOT --kind image|upper [--id-base N] [--exclude PATH]... [--empty PATH]...
               [--max-file-bytes N]
  oci-layer.py files < SPEC.json

`tree --kind image` packs a read-only image subvolume as it is. `tree --kind upper` packs the
upper directory of an overlay (a sandbox's own files, from a read-only checkpoint) as a layer
over that image: overlay whiteouts (0/0 character devices) become `.wh.NAME` files, opaque
directories (trusted.overlay.opaque=y) get a `.wh..wh..opq` file, and ids in the sandbox's host
range [N, N+65536) go back to what they are inside. `--exclude` leaves a path and everything
below it out; `--empty` keeps a directory but none of its contents. Device nodes and sockets
are left out, and so is a file larger than --max-file-bytes (a sparse file can claim any size);
each thing left out is reported on stderr as a JSON line {"skipped": path, "reason": why}.

The tree was written by a sandbox: nothing here follows a symlink (lstat, O_NOFOLLOW, readlink
only), and a name is only ever joined under ROOT, never resolved.

`files` packs a few generated files: SPEC.json is [{"path", "type": "dir"|"file", "mode",
"content" (base64, files only)}], all owned by root, mtime 0.

`--measure` (before the command) writes no tar: it prints the layer's {"digest", "size"} as JSON,
hashing the bytes it would have written (a first pass that learns the digest need not move the
layer through a pipe). Files go to a pipe with splice(2), which moves pages without copying them.
"""
import argparse
import base64
import errno
import hashlib
import json
import os
import stat
import sys
import tarfile

ID_RANGE_SIZE = 65536
NOBODY = 65534
OVERLAY_XATTRS = b'trusted.overlay.'
OPAQUE_XATTR = 'trusted.overlay.opaque'
UNSUPPORTED_XATTRS = ('trusted.overlay.redirect', 'trusted.overlay.metacopy')
CHUNK = 1 << 20


class Stdout:
    """The layer's bytes, to stdout; file contents go straight from the file to the pipe."""

    def __init__(self):
        self.buffer = sys.stdout.buffer
        self.fileno = self.buffer.fileno()
        self.splice = True

    def write(self, data):
        self.buffer.write(data)

    def copy_file(self, fd, size):
        self.buffer.flush()
        offset = 0
        while offset < size:
            count = min(size - offset, 1 << 30)
            sent = self.move(fd, offset, count)
            if sent == 0:
                raise OSError(errno.EIO, 'file shrank while being packed')
            offset += sent

    def move(self, fd, offset, count):
        if self.splice:
            try:
                return os.splice(fd, self.fileno, count, offset_src=offset)
            except OSError as e:
                if e.errno != errno.EINVAL:
                    raise
                self.splice = False  # stdout is not a pipe
        return os.sendfile(self.fileno, fd, offset, count)

    def close(self):
        self.buffer.flush()


class Measure:
    """The layer's sha256 and size, without the layer."""

    def __init__(self):
        self.hash = hashlib.sha256()
        self.size = 0

    def write(self, data):
        self.hash.update(data)
        self.size += len(data)

    def copy_file(self, fd, size):
        offset = 0
        while offset < size:
            chunk = os.pread(fd, min(CHUNK, size - offset), offset)
            if not chunk:
                raise OSError(errno.EIO, 'file shrank while being packed')
            self.write(chunk)
            offset += len(chunk)

    def close(self):
        sys.stdout.write(json.dumps({'digest': 'sha256:' + self.hash.hexdigest(), 'size': self.size}) + '\n')
        sys.stdout.flush()


out = None


def skipped(path, reason):
    sys.stderr.write(json.dumps({'skipped': path, 'reason': reason}) + '\n')


def write_entry(info, fd=None):
    out.write(info.tobuf(tarfile.PAX_FORMAT, 'utf-8', 'surrogateescape'))
    if fd is None or info.size == 0:
        return
    out.copy_file(fd, info.size)
    pad = (-info.size) % tarfile.BLOCKSIZE
    if pad:
        out.write(b'\0' * pad)


def finish():
    out.write(b'\0' * (tarfile.BLOCKSIZE * 2))
    out.close()


def text(name_bytes):
    return name_bytes.decode('utf-8', 'surrogateescape')


def pack_tree(args):
    root = os.fsencode(args.root)
    excluded = {os.fsencode(p.strip('/')) for p in args.exclude}
    emptied = {os.fsencode(p.strip('/')) for p in args.empty}
    upper = args.kind == 'upper'
    base = args.id_base

    def inside(i):
        if not upper:
            return i
        return i - base if base <= i < base + ID_RANGE_SIZE else NOBODY

    hardlinks = {}

    def header(rel, st):
        info = tarfile.TarInfo(text(rel))
        info.mode = stat.S_IMODE(st.st_mode)
        info.uid, info.gid = inside(st.st_uid), inside(st.st_gid)
        info.uname = info.gname = ''
        info.mtime = int(st.st_mtime)
        return info

    def xattrs_of(path):
        found = {}
        try:
            names = os.listxattr(path, follow_symlinks=False)
        except OSError as e:
            if e.errno in (errno.ENOTSUP, errno.EPERM):
                return found
            raise
        for name in sorted(names):
            if name.encode().startswith(OVERLAY_XATTRS):
                continue
            value = os.getxattr(path, name, follow_symlinks=False)
            found['SCHILY.xattr.' + name] = value.decode('utf-8', 'surrogateescape')
        return found

    def marker(rel):
        info = tarfile.TarInfo(text(rel))
        info.mode, info.mtime, info.uname, info.gname = 0o644, 0, '', ''
        write_entry(info)

    def whiteout(rel):
        parent, _, name = rel.rpartition(b'/')
        marker((parent + b'/' if parent else b'') + b'.wh.' + name)

    def visit_dir(dir_path, dir_rel):
        for name in sorted(os.listdir(dir_path)):
            rel = dir_rel + b'/' + name if dir_rel else name
            if rel in excluded:
                continue
            path = dir_path + b'/' + name
            st = os.lstat(path)
            mode = st.st_mode
            if upper and stat.S_ISCHR(mode) and st.st_rdev == 0:
                whiteout(rel)
                continue
            if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISSOCK(mode):
                skipped(text(rel), 'device node or socket')
                continue
            info = header(rel, st)
            if stat.S_ISDIR(mode):
                info.type = tarfile.DIRTYPE
                opaque = False
                if upper:
                    for unsupported in UNSUPPORTED_XATTRS:
                        if try_getxattr(path, unsupported) is not None:
                            raise SystemExit(f'{text(rel)}: overlay {unsupported} is not supported')
                    opaque = try_getxattr(path, OPAQUE_XATTR) == b'y'
                info.pax_headers = xattrs_of(path)
                write_entry(info)
                if opaque:
                    marker(rel + b'/.wh..wh..opq')
                if rel not in emptied:
                    visit_dir(path, rel)
                continue
            if st.st_nlink > 1:
                first = hardlinks.get((st.st_dev, st.st_ino))
                if first is not None:
                    info.type, info.linkname, info.size = tarfile.LNKTYPE, text(first), 0
                    write_entry(info)
                    continue
            if stat.S_ISLNK(mode):
                info.type = tarfile.SYMTYPE
                info.linkname = text(os.readlink(path))
                info.pax_headers = xattrs_of(path)
                write_entry(info)
            elif stat.S_ISFIFO(mode):
                info.type = tarfile.FIFOTYPE
                write_entry(info)
            elif stat.S_ISREG(mode):
                if args.max_file_bytes is not None and st.st_size > args.max_file_bytes:
                    skipped(text(rel), f'{st.st_size} bytes, more than the sandbox may store ({args.max_file_bytes})')
                    continue
                fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NOCTTY | os.O_NONBLOCK)
                try:
                    now = os.fstat(fd)
                    if (now.st_dev, now.st_ino, now.st_size) != (st.st_dev, st.st_ino, st.st_size):
                        raise SystemExit(f'{text(rel)} changed while being packed')
                    info.type = tarfile.REGTYPE
                    info.size = st.st_size
                    info.pax_headers = xattrs_of(path)
                    write_entry(info, fd)
                finally:
                    os.close(fd)
            else:
                skipped(text(rel), 'unknown file type')
                continue
            if st.st_nlink > 1:
                hardlinks[(st.st_dev, st.st_ino)] = rel

    visit_dir(root, b'')
    finish()


def try_getxattr(path, name):
    try:
        return os.getxattr(path, name, follow_symlinks=False)
    except OSError as e:
        if e.errno in (errno.ENODATA, errno.ENOTSUP):
            return None
        raise


def pack_files():
    spec = json.load(sys.stdin)
    for entry in sorted(spec, key=lambda e: e['path']):
        info = tarfile.TarInfo(entry['path'].strip('/'))
        info.mode, info.mtime, info.uname, info.gname = entry['mode'], 0, '', ''
        if entry['type'] == 'dir':
            info.type = tarfile.DIRTYPE
            write_entry(info)
        else:
            data = base64.b64decode(entry['content'])
            info.size = len(data)
            out.write(info.tobuf(tarfile.PAX_FORMAT, 'utf-8', 'surrogateescape'))
            out.write(data + b'\0' * ((-len(data)) % tarfile.BLOCKSIZE))
    finish()


def main():
    global out
    parser = argparse.ArgumentParser()
    parser.add_argument('--measure', action='store_true')
    sub = parser.add_subparsers(dest='command', required=True)
    tree = sub.add_parser('tree')
    tree.add_argument('root')
    tree.add_argument('--kind', choices=['image', 'upper'], required=True)
    tree.add_argument('--id-base', type=int, default=0)
    tree.add_argument('--exclude', action='append', default=[])
    tree.add_argument('--empty', action='append', default=[])
    tree.add_argument('--max-file-bytes', type=int)
    sub.add_parser('files')
    args = parser.parse_args()
    out = Measure() if args.measure else Stdout()
    if args.command == 'tree':
        pack_tree(args)
    else:
        pack_files()


if __name__ == '__main__':
    main()

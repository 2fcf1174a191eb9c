#!/usr/bin/env python3
"""Unpacks OCI image archives into a directory on the host, treating everything in them as
hostile: no name climbs out (`..`, absolute names are taken as relative), nothing is written
through a symlink (every parent is opened with O_NOFOLLOW from DEST down; an entry below a
symlink is refused), no device node is made, ids stay in 0-65535.

  oci-unpack.py archive DEST < ARCHIVE
      the outer archive (an OCI image layout, or `docker save`): its regular files only, each
      under DEST, names of [A-Za-z0-9._:/-] only
  oci-unpack.py layers DEST LAYER...
      applies layer blobs (tar, gzipped or zstd-compressed tar) in order, OCI whiteouts included;
      zstd is read by Debian's `zstd` program (Python has no zstd), given the blob's path as argv
  oci-unpack.py check DEST
      prints what a sandbox needs of the tree as JSON: {"shell": bool, "user": bool}
  oci-unpack.py graft DEST SOURCE PATH...
      copies PATHs (files, symlinks, trees) from SOURCE (a trusted image) into DEST
  oci-unpack.py dirs DEST
      makes the directories a sandbox needs that the image may lack (an image made from a bare
      directory often has no /run, where burrow's agent listens, and no home for `user`)

A refusal exits 3 with one line on stderr saying why; the caller turns it into a 400.
"""
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tarfile

MAX_ID = 65535
NOBODY = 65534
CHUNK = 1 << 20
ZSTD_MAGIC = b'\x28\xb5\x2f\xfd'
SAFE_OUTER_NAME = re.compile(r'^[A-Za-z0-9._:/-]+$')
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class Refused(Exception):
    pass


def parts_of(name):
    parts = [p for p in name.split('/') if p not in ('', '.')]
    if any(p == '..' for p in parts):
        raise Refused(f'{name!r} climbs out of the image')
    return parts


def open_dir(root_fd, parts, create):
    """The directory at `parts` under root, as an fd; never through a symlink."""
    fd = os.dup(root_fd)
    try:
        for part in parts:
            try:
                nxt = os.open(part, DIR_FLAGS, dir_fd=fd)
            except FileNotFoundError:
                if not create:
                    raise
                os.mkdir(part, 0o755, dir_fd=fd)
                nxt = os.open(part, DIR_FLAGS, dir_fd=fd)
            except (NotADirectoryError, OSError) as e:
                if isinstance(e, FileNotFoundError):
                    raise
                raise Refused(f'{"/".join(parts)}: goes through a symlink or a file ({e.strerror})')
            os.close(fd)
            fd = nxt
        return fd
    except BaseException:
        os.close(fd)
        raise


def remove_at(dir_fd, name):
    try:
        st = os.lstat(name, dir_fd=dir_fd)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        shutil.rmtree(name, dir_fd=dir_fd)
    else:
        os.unlink(name, dir_fd=dir_fd)


def clamp(i):
    return i if 0 <= i <= MAX_ID else NOBODY


def set_meta_fd(fd, info):
    os.fchown(fd, clamp(info.uid), clamp(info.gid))
    os.fchmod(fd, info.mode & 0o7777)
    for key, value in info.pax_headers.items():
        if not key.startswith('SCHILY.xattr.'):
            continue
        name = key[len('SCHILY.xattr.'):]
        if name.startswith('trusted.'):
            continue  # overlayfs keeps its own bookkeeping there
        try:
            os.setxattr(fd, name, value.encode('utf-8', 'surrogateescape'))
        except OSError:
            pass  # a file system without that namespace: the file still is what it is


def apply_layer(root_fd, path, skipped):
    with open(path, 'rb') as raw:
        zstd = raw.read(4) == ZSTD_MAGIC
        raw.seek(0)
        if not zstd:
            apply_tar(root_fd, raw, skipped)
            return
    unzstd = subprocess.Popen(['zstd', '--decompress', '--stdout', '--quiet', '--', path], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        apply_tar(root_fd, unzstd.stdout, skipped)
        unzstd.stdout.read()  # what follows the tar's end, so that zstd checks the whole frame
    finally:
        unzstd.stdout.close()
        complaint = unzstd.stderr.read().decode(errors='replace').strip()
        status = unzstd.wait()
    if status != 0:
        raise Refused(f'a zstd layer does not decompress: {complaint or f"zstd exited {status}"}')


def apply_tar(root_fd, stream, skipped):
    created = set()
    with tarfile.open(fileobj=stream, mode='r|*') as layer:
        for info in members_of(layer):
            parts = parts_of(info.name)
            if not parts:
                continue
            parent, name = parts[:-1], parts[-1]
            parent_fd = open_dir(root_fd, parent, create=True)
            try:
                if name == '.wh..wh..opq':
                    for entry in os.listdir(parent_fd):
                        if '/'.join(parent + [entry]) not in created:
                            remove_at(parent_fd, entry)
                    continue
                if name.startswith('.wh.'):
                    remove_at(parent_fd, name[4:])
                    continue
                key = '/'.join(parts)
                created.add(key)
                write_entry(root_fd, parent_fd, name, info, layer, skipped, key)
            finally:
                os.close(parent_fd)


def members_of(layer):
    """The layer's members; a layer whose last member lacks its padding and the end blocks (umoci
    writes such layers) ends there. A member whose data is short fails where its data is read."""
    members = iter(layer)
    while True:
        try:
            yield next(members)
        except StopIteration:
            return
        except tarfile.ReadError as e:
            if str(e) != 'unexpected end of data':
                raise
            return


def write_entry(root_fd, parent_fd, name, info, layer, skipped, key):
    try:
        existing = os.lstat(name, dir_fd=parent_fd)
    except FileNotFoundError:
        existing = None
    if existing is not None and not (info.isdir() and stat.S_ISDIR(existing.st_mode)):
        remove_at(parent_fd, name)
    if info.isdir():
        if existing is None or not stat.S_ISDIR(existing.st_mode):
            os.mkdir(name, 0o700, dir_fd=parent_fd)
        fd = os.open(name, DIR_FLAGS, dir_fd=parent_fd)
        try:
            set_meta_fd(fd, info)
        finally:
            os.close(fd)
    elif info.isreg():
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=parent_fd)
        try:
            source = layer.extractfile(info)
            while True:
                chunk = source.read(CHUNK)
                if not chunk:
                    break
                os.write(fd, chunk)
            set_meta_fd(fd, info)
        finally:
            os.close(fd)
    elif info.issym():
        os.symlink(info.linkname, name, dir_fd=parent_fd)
        os.chown(name, clamp(info.uid), clamp(info.gid), dir_fd=parent_fd, follow_symlinks=False)
    elif info.islnk():
        target = parts_of(info.linkname)
        if not target:
            raise Refused(f'{key}: a hard link to the root')
        target_fd = open_dir(root_fd, target[:-1], create=False)
        try:
            os.link(target[-1], name, src_dir_fd=target_fd, dst_dir_fd=parent_fd, follow_symlinks=False)
        finally:
            os.close(target_fd)
        return
    elif info.isfifo():
        os.mkfifo(name, 0o600, dir_fd=parent_fd)
        os.chown(name, clamp(info.uid), clamp(info.gid), dir_fd=parent_fd, follow_symlinks=False)
        fd = os.open(name, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW, dir_fd=parent_fd)
        try:
            os.fchmod(fd, info.mode & 0o777)
        finally:
            os.close(fd)
    else:
        skipped.append(key)
        return
    os.utime(name, ns=(int(info.mtime) * 10**9, int(info.mtime) * 10**9), dir_fd=parent_fd, follow_symlinks=False)


def unpack_archive(dest):
    root_fd = os.open(dest, DIR_FLAGS)
    with tarfile.open(fileobj=sys.stdin.buffer, mode='r|*') as archive:
        for info in archive:
            if not info.isreg():
                continue
            if not SAFE_OUTER_NAME.match(info.name):
                raise Refused(f'{info.name!r} is not a name an image archive has')
            parts = parts_of(info.name)
            parent_fd = open_dir(root_fd, parts[:-1], create=True)
            try:
                remove_at(parent_fd, parts[-1])
                fd = os.open(parts[-1], os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600, dir_fd=parent_fd)
                try:
                    source = archive.extractfile(info)
                    while True:
                        chunk = source.read(CHUNK)
                        if not chunk:
                            break
                        os.write(fd, chunk)
                finally:
                    os.close(fd)
            finally:
                os.close(parent_fd)


def resolve(root_fd, path, hops=0):
    """The file `path` names inside the tree, symlinks followed as the tree's own root would."""
    parts = parts_of(path)
    done = []
    while parts:
        part = parts.pop(0)
        dir_fd = open_dir(root_fd, done, create=False)
        try:
            st = os.lstat(part, dir_fd=dir_fd)
            if stat.S_ISLNK(st.st_mode):
                if hops > 40:
                    raise Refused(f'{path}: too many symlinks')
                target = os.readlink(part, dir_fd=dir_fd)
                base = [] if target.startswith('/') else done
                return resolve(root_fd, '/'.join(base + [target] + parts), hops + 1)
        finally:
            os.close(dir_fd)
        done.append(part)
    return done, st


def check(dest):
    root_fd = os.open(dest, DIR_FLAGS)
    found = {'shell': False, 'user': False}
    try:
        _, st = resolve(root_fd, 'bin/sh')
        found['shell'] = stat.S_ISREG(st.st_mode) and bool(st.st_mode & 0o111)
    except (FileNotFoundError, NotADirectoryError, Refused):
        pass
    try:
        parts, st = resolve(root_fd, 'etc/passwd')
        if stat.S_ISREG(st.st_mode):
            dir_fd = open_dir(root_fd, parts[:-1], create=False)
            try:
                fd = os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW, dir_fd=dir_fd)
                with os.fdopen(fd, 'rb') as f:
                    lines = f.read(1 << 20).split(b'\n')
                found['user'] = any(line.startswith(b'user:') for line in lines)
            finally:
                os.close(dir_fd)
    except (FileNotFoundError, NotADirectoryError, Refused):
        pass
    print(json.dumps(found))


def graft(dest, source, paths):
    root_fd = os.open(dest, DIR_FLAGS)
    for path in paths:
        parts = parts_of(path)
        src = os.path.join(source, *parts)
        if not os.path.lexists(src):
            continue
        parent_fd = open_dir(root_fd, parts[:-1], create=True)
        try:
            remove_at(parent_fd, parts[-1])
            copy_into(src, parent_fd, parts[-1])
        finally:
            os.close(parent_fd)


def copy_into(src, parent_fd, name):
    st = os.lstat(src)
    if stat.S_ISLNK(st.st_mode):
        os.symlink(os.readlink(src), name, dir_fd=parent_fd)
    elif stat.S_ISDIR(st.st_mode):
        os.mkdir(name, stat.S_IMODE(st.st_mode), dir_fd=parent_fd)
        fd = os.open(name, DIR_FLAGS, dir_fd=parent_fd)
        try:
            for entry in sorted(os.listdir(src)):
                copy_into(os.path.join(src, entry), fd, entry)
        finally:
            os.close(fd)
    elif stat.S_ISREG(st.st_mode):
        out = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, stat.S_IMODE(st.st_mode), dir_fd=parent_fd)
        try:
            with open(src, 'rb') as f:
                while chunk := f.read(CHUNK):
                    os.write(out, chunk)
            os.fchmod(out, stat.S_IMODE(st.st_mode))
        finally:
            os.close(out)


NEEDED_DIRS = [(['run'], 0o755, 0), (['home'], 0o755, 0), (['home', 'user'], 0o755, 1000)]


def make_dirs(dest):
    root_fd = os.open(dest, DIR_FLAGS)
    for parts, mode, owner in NEEDED_DIRS:
        parent_fd = open_dir(root_fd, parts[:-1], create=False)
        try:
            try:
                os.lstat(parts[-1], dir_fd=parent_fd)
                continue  # the image's own, whatever it is
            except FileNotFoundError:
                pass
            os.mkdir(parts[-1], mode, dir_fd=parent_fd)
            os.chown(parts[-1], owner, owner, dir_fd=parent_fd, follow_symlinks=False)
            os.chmod(parts[-1], mode, dir_fd=parent_fd)
        finally:
            os.close(parent_fd)


def main():
    command, dest, *rest = sys.argv[1:]
    try:
        if command == 'archive':
            unpack_archive(dest)
        elif command == 'layers':
            root_fd = os.open(dest, DIR_FLAGS)
            skipped = []
            for layer in rest:
                apply_layer(root_fd, layer, skipped)
            print(json.dumps({'skipped': skipped[:100], 'skippedCount': len(skipped)}))
        elif command == 'check':
            check(dest)
        elif command == 'graft':
            graft(dest, rest[0], rest[1:])
        elif command == 'dirs':
            make_dirs(dest)
        else:
            raise SystemExit(f'unknown command {command}')
    except Refused as e:
        sys.stderr.write(f'{e}\n')
        sys.exit(3)
    except OSError as e:
        sys.stderr.write(f'cannot unpack: {e}\n')
        sys.exit(3)
    except (tarfile.TarError, EOFError, UnicodeError) as e:
        sys.stderr.write(f'not a readable tar archive: {e}\n')
        sys.exit(3)


if __name__ == '__main__':
    main()

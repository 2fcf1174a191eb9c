# burrow's filesystem tool. It runs INSIDE a sandbox, one operation per process, started by the
# daemon as `python3 -I -S -c <this file's text> OP ARG...` through the sandbox's PID 1 agent,
# as the sandbox user or as root. Every path is opened by the sandbox's own kernel, so symlinks,
# `..` and mounts resolve in the sandbox's view and can never reach the host. User data arrives
# only as argv elements and on stdin; this text never changes per request.
#
# Protocol with the daemon (core/sandbox-fs.ts):
#   stderr: the first line is one JSON object, {"ok": true, ...} once the operation has started
#           (or finished, for operations without output), or {"error", "code", "path"} when it
#           could not. A failure after `ok` (a read error half-way) adds a second such line and
#           a non-zero exit status.
#   stdout: read: the file's bytes; list: one JSON entry per line; watch: one message per line.
#   stdin:  write: the file's new content.
import errno
import json
import os
import stat
import sys
import time

CHUNK = 1 << 20


class Failure(Exception):
    def __init__(self, code, message, path):
        super().__init__(message)
        self.code = code
        self.message = message
        self.path = path


def report(obj):
    os.write(2, (json.dumps(obj, separators=(",", ":")) + "\n").encode())


def failure_of(e, fallback_path):
    if isinstance(e, Failure):
        return {"error": e.message, "code": e.code, "path": e.path}
    if isinstance(e, OSError) and e.errno is not None:
        path = e.filename if isinstance(e.filename, str) else fallback_path
        code = errno.errorcode.get(e.errno, "EIO")
        return {"error": "%s: %s" % (path, os.strerror(e.errno)), "code": code, "path": path}
    return {"error": "%s: %s" % (fallback_path, e), "code": "EIO", "path": fallback_path}


def text(name):
    # Names that are not UTF-8 still travel as JSON text; the lost bytes show as U+FFFD.
    return os.fsencode(name).decode("utf-8", "replace")


def rfc3339(t):
    secs = int(t)
    millis = int((t - secs) * 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + ".%03dZ" % millis


def entry(path, name, st):
    if stat.S_ISLNK(st.st_mode):
        kind = "symlink"
    elif stat.S_ISDIR(st.st_mode):
        kind = "directory"
    else:
        kind = "file"
    return {
        "name": text(name),
        "path": text(path),
        "type": kind,
        "size": st.st_size,
        "mode": "%04o" % stat.S_IMODE(st.st_mode),
        "modTime": rfc3339(st.st_mtime),
        "isDir": kind == "directory",
    }


def write_all(fd, data):
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def is_dir(path):
    """Whether path is a directory, following symlinks; a dangling link is not."""
    try:
        return stat.S_ISDIR(os.stat(path).st_mode)
    except OSError:
        return False


def parent_of(path):
    return os.path.dirname(path.rstrip("/")) or "/"


# ------------------------------------------------------------------------------ operations --


def op_read(path):
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    st = os.fstat(fd)
    if stat.S_ISDIR(st.st_mode):
        raise OSError(errno.EISDIR, os.strerror(errno.EISDIR), path)
    report({"ok": True, "size": st.st_size if stat.S_ISREG(st.st_mode) else None})
    use_sendfile = True
    while True:
        if use_sendfile:
            try:
                n = os.sendfile(1, fd, None, CHUNK)
            except OSError as e:
                if e.errno not in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
                    raise
                use_sendfile = False
                continue
            if n == 0:
                break
        else:
            data = os.read(fd, CHUNK)
            if not data:
                break
            write_all(1, data)


def make_parents(path, how):
    parent = parent_of(path)
    if how == "parents":
        os.makedirs(parent, exist_ok=True)
    elif how == "parent":
        # Like a plain `mkdir`: the immediate parent only, which is what the Sprites SDK's
        # non-recursive mkdir (write `dir/.keep`, then delete it) relies on.
        try:
            os.mkdir(parent)
        except FileExistsError:
            pass
        except FileNotFoundError:
            raise OSError(errno.ENOENT, os.strerror(errno.ENOENT), path)


def op_mkdir(path):
    # With its parents, like `mkdir -p`, but an existing path is EEXIST: the caller tells
    # "made" from "was there".
    if os.path.lexists(path):
        raise OSError(errno.EEXIST, os.strerror(errno.EEXIST), path)
    os.makedirs(path)
    report({"ok": True})


def op_write(path, mode, mkdir, expected):
    make_parents(path, mkdir)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o666 if mode == "-" else int(mode, 8))
    # Permission and type problems surface before the old content is gone.
    if mode != "-":
        os.fchmod(fd, int(mode, 8))
    if stat.S_ISREG(os.fstat(fd).st_mode):
        os.ftruncate(fd, 0)
    report({"ok": True})
    # One buffer for the whole upload: a fresh 1 MiB object per read costs an mmap and a munmap,
    # which under gVisor are slower than the copy itself.
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    stdin = open(0, "rb", buffering=0, closefd=False)
    total = 0
    while True:
        n = stdin.readinto(view)
        if not n:
            break
        write_all(fd, view[:n])
        total += n
    os.close(fd)
    if expected != "-" and total != int(expected):
        raise Failure("EIO", "%s: the upload ended after %d of %d bytes" % (path, total, int(expected)), path)


def op_list(path, recursive, pattern):
    import fnmatch

    top = os.lstat(path)
    if not is_dir(path):
        report({"ok": True, "self": entry(path, os.path.basename(path.rstrip("/")) or "/", top)})
        if not pattern or fnmatch.fnmatchcase(os.path.basename(path.rstrip("/")), pattern):
            emit_entries([entry(path, os.path.basename(path.rstrip("/")), top)])
        return
    # Opened before `ok`, so an unreadable directory is an error rather than an empty list.
    first = sorted(os.scandir(path), key=lambda e: e.name)
    report({"ok": True, "self": entry(path, os.path.basename(path.rstrip("/")) or "/", top)})
    base = path.rstrip("/") or "/"
    stack = [(base, first)]
    while stack:
        directory, entries = stack.pop()
        batch = []
        subdirs = []
        for e in entries:
            full = os.path.join(directory, e.name)
            try:
                st = e.stat(follow_symlinks=False)
            except OSError:
                continue
            relative = os.path.relpath(full, base)
            if not pattern or fnmatch.fnmatchcase(e.name, pattern) or ("/" in pattern and fnmatch.fnmatchcase(relative, pattern)):
                batch.append(entry(full, e.name, st))
            if recursive == "1" and stat.S_ISDIR(st.st_mode):
                subdirs.append(full)
        emit_entries(batch)
        # Depth first, in name order: a subdirectory's entries follow the directory's own.
        for sub in reversed(subdirs):
            try:
                stack.append((sub, sorted(os.scandir(sub), key=lambda e: e.name)))
            except OSError:
                pass  # an unreadable subdirectory is skipped, as `find` would go on


def emit_entries(batch):
    if batch:
        write_all(1, "".join(json.dumps(e, separators=(",", ":")) + "\n" for e in batch).encode())


def op_delete(path, recursive):
    st = os.lstat(path)
    if stat.S_ISDIR(st.st_mode):
        if recursive == "1":
            if os.path.realpath(path) == "/":
                raise Failure("EINVAL", "refusing to delete the root directory", path)
            import shutil

            def fail(_fn, failed, exc_info):
                raise exc_info[1] if isinstance(exc_info, tuple) else exc_info

            # rmtree works on directory descriptors and never follows symlinks.
            shutil.rmtree(path, onerror=fail)
        else:
            os.rmdir(path)
    else:
        os.unlink(path)
    report({"ok": True})


def op_rename(source, dest):
    try:
        os.rename(source, dest)
    except OSError as e:
        if e.errno != errno.EXDEV:
            raise
        import shutil

        os.lstat(source)
        shutil.move(source, dest)
    report({"ok": True})


def op_copy(source, dest, recursive, preserve):
    import shutil

    copy = shutil.copy2 if preserve == "1" else shutil.copy
    st = os.stat(source)
    if stat.S_ISDIR(st.st_mode):
        if recursive != "1":
            raise Failure("EISDIR", "%s is a directory: copy it with recursive" % source, source)
        real_source = os.path.realpath(source)
        real_dest = os.path.realpath(dest)
        if real_dest == real_source or real_dest.startswith(real_source.rstrip("/") + "/"):
            raise Failure("EINVAL", "cannot copy %s into itself (%s)" % (source, dest), dest)
        try:
            shutil.copytree(source, dest, symlinks=True, copy_function=copy, dirs_exist_ok=True)
        except shutil.Error as e:
            # copytree gathers per-file failures: (src, dst, reason) triples.
            first = e.args[0][0] if e.args and isinstance(e.args[0], list) and e.args[0] else None
            if first:
                raise Failure("EIO", "copying %s failed: %s" % (first[0], first[2]), first[0])
            raise
    else:
        if is_dir(dest):
            raise OSError(errno.EISDIR, os.strerror(errno.EISDIR), dest)
        copy(source, dest)
    if preserve == "1":
        try:
            os.chown(dest, st.st_uid, st.st_gid)
        except PermissionError:
            pass  # like `cp -p` run by a user: ownership is kept only where allowed
    report({"ok": True})


def below(path):
    """Everything under path if it is a real directory; symlinks are listed but never entered."""
    if not stat.S_ISDIR(os.lstat(path).st_mode):
        return
    for root, dirs, files in os.walk(path, onerror=raise_it):
        for name in dirs + files:
            yield os.path.join(root, name)


def raise_it(e):
    raise e


def op_chmod(path, mode, recursive):
    value = int(mode, 8)
    os.chmod(path, value)
    if recursive == "1":
        for p in below(path):
            if not stat.S_ISLNK(os.lstat(p).st_mode):  # a link's own mode means nothing
                os.chmod(p, value)
    report({"ok": True})


def user_id(value):
    if value == "-":
        return -1
    if value.isdigit():
        return int(value)
    import pwd

    try:
        return pwd.getpwnam(value).pw_uid
    except KeyError:
        raise Failure("EINVAL", "no user named '%s' in the sandbox" % value, "")


def group_id(value):
    if value == "-":
        return -1
    if value.isdigit():
        return int(value)
    import grp

    try:
        return grp.getgrnam(value).gr_gid
    except KeyError:
        raise Failure("EINVAL", "no group named '%s' in the sandbox" % value, "")


def op_chown(path, uid, gid, recursive):
    try:
        u, g = user_id(uid), group_id(gid)
    except Failure as e:
        e.path = path
        raise
    os.chown(path, u, g)
    if recursive == "1":
        for p in below(path):
            os.lchown(p, u, g)
    report({"ok": True})


# ----------------------------------------------------------------------------------- watch --

IN_MODIFY, IN_ATTRIB = 0x2, 0x4
IN_MOVED_FROM, IN_MOVED_TO, IN_CREATE, IN_DELETE = 0x40, 0x80, 0x100, 0x200
IN_DELETE_SELF, IN_MOVE_SELF = 0x400, 0x800
IN_Q_OVERFLOW, IN_IGNORED, IN_ISDIR = 0x4000, 0x8000, 0x40000000
WATCH_MASK = IN_MODIFY | IN_ATTRIB | IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE | IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF
# The event names of fsnotify, which the Sprites server reports.
EVENTS = [
    (IN_CREATE | IN_MOVED_TO, "create"),
    (IN_MODIFY, "write"),
    (IN_DELETE | IN_DELETE_SELF, "remove"),
    (IN_MOVED_FROM | IN_MOVE_SELF, "rename"),
    (IN_ATTRIB, "chmod"),
]


def message(obj):
    return json.dumps(obj, separators=(",", ":")) + "\n"


def op_watch(recursive, *paths):
    import ctypes
    import struct

    libc = ctypes.CDLL(None, use_errno=True)
    fd = libc.inotify_init1(os.O_CLOEXEC)
    if fd < 0:
        e = ctypes.get_errno()
        write_all(1, message({"type": "error", "message": "inotify is not available: %s" % os.strerror(e)}).encode())
        return
    watches = {}  # wd -> (path, is a subscribed root)

    def add(path, root):
        wd = libc.inotify_add_watch(fd, os.fsencode(path), WATCH_MASK)
        if wd < 0:
            e = ctypes.get_errno()
            raise OSError(e, os.strerror(e), path)
        watches[wd] = (path, root or watches.get(wd, (path, False))[1])

    def add_tree(path):
        for root, dirs, _files in os.walk(path):
            for name in dirs:
                try:
                    add(os.path.join(root, name), False)
                except OSError:
                    pass

    out = []
    subscribed = []
    for path in paths:
        try:
            add(path, True)
            subscribed.append(text(path))
            if recursive == "1" and is_dir(path):
                add_tree(path)
        except OSError as e:
            out.append(message({"type": "error", "message": "%s: %s" % (text(path), os.strerror(e.errno))}))
    out.append(message({"type": "subscribed", "paths": subscribed}))
    write_all(1, "".join(out).encode())
    if not watches:
        return

    header = struct.Struct("iIII")
    while watches:
        buf = os.read(fd, 64 * 1024)
        now = rfc3339(time.time())
        out = []
        last = None
        at = 0
        while at + header.size <= len(buf):
            wd, mask, _cookie, length = header.unpack_from(buf, at)
            name = buf[at + header.size : at + header.size + length].rstrip(b"\0")
            at += header.size + length
            if mask & IN_Q_OVERFLOW:
                out.append(message({"type": "error", "message": "too many changes at once: some events were lost"}))
                continue
            if wd not in watches:
                continue
            base, root = watches[wd]
            if mask & IN_IGNORED:
                del watches[wd]
                continue
            # A subdirectory's own removal is reported by its parent; only roots report theirs.
            if mask & (IN_DELETE_SELF | IN_MOVE_SELF) and not root:
                continue
            path = os.path.join(base, os.fsdecode(name)) if name else base
            is_directory = bool(mask & IN_ISDIR)
            if recursive == "1" and is_directory and mask & (IN_CREATE | IN_MOVED_TO):
                try:
                    add(path, False)
                    add_tree(path)
                except OSError:
                    pass
            for bits, event in EVENTS:
                if not mask & bits:
                    continue
                if (path, event) == last and event == "write":
                    continue  # one write event per batch for a file being written
                last = (path, event)
                size = 0
                if event not in ("remove", "rename"):
                    try:
                        st = os.lstat(path)
                        size = st.st_size
                        is_directory = stat.S_ISDIR(st.st_mode)
                    except OSError:
                        pass
                out.append(
                    message(
                        {"type": "event", "path": text(path), "event": event, "timestamp": now, "size": size, "isDir": is_directory}
                    )
                )
        if out:
            write_all(1, "".join(out).encode())


# ------------------------------------------------------------------------------------ main --

OPS = {
    "read": (op_read, 1),
    "write": (op_write, 4),
    "mkdir": (op_mkdir, 1),
    "list": (op_list, 3),
    "delete": (op_delete, 2),
    "rename": (op_rename, 2),
    "copy": (op_copy, 4),
    "chmod": (op_chmod, 3),
    "chown": (op_chown, 4),
    "watch": (op_watch, None),
}


def main(argv):
    if not argv or argv[0] not in OPS:
        report({"error": "unknown operation %r" % (argv[:1],), "code": "EINVAL", "path": ""})
        return 2
    fn, arity = OPS[argv[0]]
    args = argv[1:]
    if arity is not None and len(args) != arity:
        report({"error": "%s takes %d arguments" % (argv[0], arity), "code": "EINVAL", "path": ""})
        return 2
    os.umask(0o022)
    try:
        fn(*args)
    except BrokenPipeError:
        return 1  # the daemon stopped reading: the client went away
    except Exception as e:  # noqa: BLE001 - every failure must reach the daemon as a status line
        report(failure_of(e, args[0] if args else ""))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

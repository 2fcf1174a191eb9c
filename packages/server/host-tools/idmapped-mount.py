#!/usr/bin/env python3
"""Bind-mounts SOURCE at TARGET with its user and group ids shifted by BASE (ids 0..COUNT-1 on
disk appear as BASE..BASE+COUNT-1): an idmapped mount, so that one read-only image serves every
user-namespaced sandbox without a copy per id range.

util-linux 2.38 (Debian 12) cannot make idmapped mounts and runc 1.1 cannot ask for them, so this
makes the three system calls itself: open_tree(OPEN_TREE_CLONE) detaches a copy of the mount,
mount_setattr(MOUNT_ATTR_IDMAP) gives it the id mapping of a user namespace made for the purpose,
and move_mount attaches it at TARGET.

usage: idmapped-mount.py SOURCE TARGET BASE COUNT
"""
import ctypes
import os
import signal
import sys

SYS_OPEN_TREE, SYS_MOVE_MOUNT, SYS_MOUNT_SETATTR = 428, 429, 442  # x86_64
OPEN_TREE_CLONE, OPEN_TREE_CLOEXEC = 1, os.O_CLOEXEC
AT_FDCWD, AT_EMPTY_PATH, AT_RECURSIVE = -100, 0x1000, 0x8000
MOVE_MOUNT_F_EMPTY_PATH = 0x4
MOUNT_ATTR_IDMAP = 0x00100000
CLONE_NEWUSER = 0x10000000

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long


class MountAttr(ctypes.Structure):
    _fields_ = [
        ("attr_set", ctypes.c_uint64),
        ("attr_clr", ctypes.c_uint64),
        ("propagation", ctypes.c_uint64),
        ("userns_fd", ctypes.c_uint64),
    ]


def checked(result, what):
    if result < 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")
    return result


def user_namespace(base, count):
    """A file descriptor of a new user namespace mapping 0..count-1 to base..base+count-1."""
    ready_r, ready_w = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(ready_r)
        try:
            checked(libc.unshare(CLONE_NEWUSER), "unshare")
            os.write(ready_w, b"y")
            signal.pause()
        finally:
            os._exit(0)
    os.close(ready_w)
    try:
        if os.read(ready_r, 1) != b"y":
            raise OSError("could not make a user namespace")
        for name in ("uid_map", "gid_map"):
            with open(f"/proc/{child}/{name}", "w") as f:
                f.write(f"0 {base} {count}\n")
        return os.open(f"/proc/{child}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
    finally:
        os.close(ready_r)
        os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)


def main():
    source, target, base, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    userns = user_namespace(base, count)
    tree = checked(
        libc.syscall(SYS_OPEN_TREE, AT_FDCWD, os.fsencode(source), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE),
        f"open_tree {source}",
    )
    attr = MountAttr(MOUNT_ATTR_IDMAP, 0, 0, userns)
    checked(
        libc.syscall(SYS_MOUNT_SETATTR, tree, b"", AT_EMPTY_PATH | AT_RECURSIVE, ctypes.byref(attr), ctypes.sizeof(attr)),
        "mount_setattr",
    )
    checked(
        libc.syscall(SYS_MOVE_MOUNT, tree, b"", AT_FDCWD, os.fsencode(target), MOVE_MOUNT_F_EMPTY_PATH),
        f"move_mount {target}",
    )


if __name__ == "__main__":
    try:
        main()
    except (OSError, ValueError, IndexError) as e:
        print(f"idmapped-mount: {e}", file=sys.stderr)
        sys.exit(1)

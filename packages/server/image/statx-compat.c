/*
 * Preloaded into every process of a burrow image (/etc/ld.so.preload).
 *
 * gVisor's statx (runsc 2022-12, Debian bookworm's) rejects the AT_NO_AUTOMOUNT flag with
 * EINVAL, and coreutils passes that flag on every call: without this shim `ls`, `stat` and `cp`
 * fail with "Invalid argument" inside gVisor sandboxes. Clearing the flag changes nothing else:
 * a sandbox has no automount points.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <sys/stat.h>

typedef int (*statx_fn)(int, const char *, int, unsigned int, struct statx *);

int statx(int dirfd, const char *path, int flags, unsigned int mask, struct statx *buf) {
  static statx_fn real;
  if (!real) real = (statx_fn)dlsym(RTLD_NEXT, "statx");
  return real(dirfd, path, flags & ~AT_NO_AUTOMOUNT, mask, buf);
}

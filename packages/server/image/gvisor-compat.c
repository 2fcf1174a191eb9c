/*
 * Preloaded into every process of a burrow image (/etc/ld.so.preload): small fixes for calls
 * that gVisor 2022-12 (Debian bookworm's runsc) refuses although Linux accepts them. Under runc
 * each wrapper just calls through.
 *
 * - statx with AT_NO_AUTOMOUNT fails with EINVAL, and coreutils passes that flag on every call:
 *   `ls`, `stat` and `cp` would fail with "Invalid argument". The flag changes nothing here (a
 *   sandbox has no automount points), so it is cleared.
 * - tcsetattr(TCSAFLUSH) (ioctl TCSETSF) fails with ENOTTY on gVisor's terminals, so `top`,
 *   `less` and friends die with "failed tty set". It is done as a flush and a TCSADRAIN instead,
 *   which is what TCSAFLUSH means.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <termios.h>

typedef int (*statx_fn)(int, const char *, int, unsigned int, struct statx *);
typedef int (*tcsetattr_fn)(int, int, const struct termios *);

int statx(int dirfd, const char *path, int flags, unsigned int mask, struct statx *buf) {
  static statx_fn real;
  if (!real) real = (statx_fn)dlsym(RTLD_NEXT, "statx");
  return real(dirfd, path, flags & ~AT_NO_AUTOMOUNT, mask, buf);
}

int tcsetattr(int fd, int actions, const struct termios *t) {
  static tcsetattr_fn real;
  if (!real) real = (tcsetattr_fn)dlsym(RTLD_NEXT, "tcsetattr");
  int result = real(fd, actions, t);
  if (result == 0 || actions != TCSAFLUSH || errno != ENOTTY) return result;
  tcflush(fd, TCIFLUSH);
  return real(fd, TCSADRAIN, t);
}

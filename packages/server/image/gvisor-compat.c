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
 *
 * And one fix for both runtimes: statfs and statvfs of the sandbox's disk report the sandbox's
 * storage_gb limit and usage instead of the whole btrfs pool it lives on (btrfs's statfs knows
 * nothing of quota groups), so `df` tells the truth. The numbers come from /.burrow/disk/size,
 * which the daemon keeps current (core/disk-gauge.ts). A filesystem is the sandbox's disk when
 * statfs gives the same type, block size and block count as for `/` (that covers `/tmp`, bound
 * from the same disk). Statically linked programs do not load this file and still see the pool.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <termios.h>
#include <unistd.h>

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

#define DISK_SIZE_FILE "/.burrow/disk/size"

/* The sandbox's disk limit and usage in bytes; 0 when the daemon publishes none. */
static int disk_size(unsigned long long *limit, unsigned long long *used) {
  int saved = errno;
  int fd = open(DISK_SIZE_FILE, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    errno = saved;
    return 0;
  }
  char text[64];
  ssize_t n = read(fd, text, sizeof text - 1);
  close(fd);
  errno = saved;
  if (n <= 0) return 0;
  text[n] = 0;
  return sscanf(text, "%llu %llu", limit, used) == 2 && *limit > 0;
}

typedef int (*statfs_fn)(const char *, struct statfs *);
typedef int (*fstatfs_fn)(int, struct statfs *);
typedef int (*statvfs_fn)(const char *, struct statvfs *);
typedef int (*fstatvfs_fn)(int, struct statvfs *);

static int real_statfs(const char *path, struct statfs *buf) {
  static statfs_fn real;
  if (!real) real = (statfs_fn)dlsym(RTLD_NEXT, "statfs");
  return real(path, buf);
}

/* Whether a filesystem with these numbers is the one `/` is on. */
static int is_root_disk(unsigned long type, unsigned long bsize, unsigned long long blocks) {
  struct statfs root;
  int saved = errno;
  int same = real_statfs("/", &root) == 0 && (unsigned long)root.f_type == type &&
             (unsigned long)root.f_bsize == bsize && (unsigned long long)root.f_blocks == blocks;
  errno = saved;
  return same;
}

/* Sizes in `unit` bytes: the limit as the size, what is left of it as free and available. */
static void fit(unsigned long unit, unsigned long long limit, unsigned long long used,
                unsigned long long *blocks, unsigned long long *bfree, unsigned long long *bavail) {
  unsigned long long left = used < limit ? limit - used : 0;
  *blocks = limit / unit;
  *bfree = left / unit;
  *bavail = left / unit;
}

static void fit_statfs(struct statfs *s) {
  unsigned long long limit, used, blocks, bfree, bavail;
  if (s->f_bsize <= 0 || !is_root_disk(s->f_type, s->f_bsize, s->f_blocks)) return;
  if (!disk_size(&limit, &used)) return;
  fit(s->f_bsize, limit, used, &blocks, &bfree, &bavail);
  s->f_blocks = blocks;
  s->f_bfree = bfree;
  s->f_bavail = bavail;
}

static void fit_statvfs(int result, int by_fd, const char *path, int fd, struct statvfs *v) {
  struct statfs s;
  unsigned long long limit, used, blocks, bfree, bavail;
  if (result != 0 || v->f_frsize == 0) return;
  int saved = errno;
  static fstatfs_fn real_fstatfs;
  if (!real_fstatfs) real_fstatfs = (fstatfs_fn)dlsym(RTLD_NEXT, "fstatfs");
  int known = by_fd ? real_fstatfs(fd, &s) : real_statfs(path, &s);
  errno = saved;
  if (known != 0 || !is_root_disk(s.f_type, s.f_bsize, s.f_blocks)) return;
  if (!disk_size(&limit, &used)) return;
  fit(v->f_frsize, limit, used, &blocks, &bfree, &bavail);
  v->f_blocks = blocks;
  v->f_bfree = bfree;
  v->f_bavail = bavail;
}

int statfs(const char *path, struct statfs *buf) {
  int result = real_statfs(path, buf);
  if (result == 0) fit_statfs(buf);
  return result;
}

int fstatfs(int fd, struct statfs *buf) {
  static fstatfs_fn real;
  if (!real) real = (fstatfs_fn)dlsym(RTLD_NEXT, "fstatfs");
  int result = real(fd, buf);
  if (result == 0) fit_statfs(buf);
  return result;
}

int statvfs(const char *path, struct statvfs *buf) {
  static statvfs_fn real;
  if (!real) real = (statvfs_fn)dlsym(RTLD_NEXT, "statvfs");
  int result = real(path, buf);
  fit_statvfs(result, 0, path, -1, buf);
  return result;
}

int fstatvfs(int fd, struct statvfs *buf) {
  static fstatvfs_fn real;
  if (!real) real = (fstatvfs_fn)dlsym(RTLD_NEXT, "fstatvfs");
  int result = real(fd, buf);
  fit_statvfs(result, 1, 0, fd, buf);
  return result;
}

/* Programs built with 64-bit file offsets (coreutils, Python) call these names; on x86-64 the
 * structures are the same as the plain ones. */
int statfs64(const char *path, struct statfs64 *buf) { return statfs(path, (struct statfs *)buf); }
int fstatfs64(int fd, struct statfs64 *buf) { return fstatfs(fd, (struct statfs *)buf); }
int statvfs64(const char *path, struct statvfs64 *buf) { return statvfs(path, (struct statvfs *)buf); }
int fstatvfs64(int fd, struct statvfs64 *buf) { return fstatvfs(fd, (struct statvfs *)buf); }

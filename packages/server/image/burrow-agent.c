/*
 * burrow-agent: PID 1 of every burrow sandbox, and the small client the daemon runs through
 * `runsc exec` / `runc exec` to start commands.
 *
 * Why commands are not started by `runsc exec` directly: gVisor sets no_new_privs on every
 * process it execs, so `sudo` can never work in them, and it does not forward signals to them.
 * Processes forked by PID 1 have neither problem. So `runsc exec` only starts the client, which
 * hands its stdin/stdout/stderr to PID 1 over a unix socket; PID 1 forks the command with those
 * descriptors, as the requested user, in its own session, and reports the exit status back.
 * Signals and terminal resizes are separate requests naming the command by its token.
 *
 *   burrow-agent init                                   PID 1: reap zombies, serve requests
 *                                                       (BURROW_NPROC=N: each user's process cap)
 *   burrow-agent exec TOKEN UID GID CWD TTY ROWS COLS -- CMD [ARG...]
 *                                                       run CMD with this process's environment
 *   burrow-agent signal TOKEN SIGNUM                    signal CMD's process group
 *   burrow-agent resize TOKEN ROWS COLS                 resize CMD's terminal
 *   sudo [-u USER] [-E] [-i|-s] [CMD...]                (symlinked as /usr/local/bin/sudo)
 *
 * gVisor also ignores set-user-ID bits (google/gvisor#212), so the real sudo cannot work there.
 * When this process runs with no_new_privs set, `sudo` asks PID 1 for the command instead. Only
 * root and members of the `sudo` group (whom the image's sudoers trusts) can reach PID 1's
 * socket: its file mode decides, enforced by the kernel. Without no_new_privs (runc), `sudo` is
 * the real one.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sys/types.h>
#include <libgen.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define SOCKET_DIR "/run/burrow"
#define SOCKET_PATH SOCKET_DIR "/agent.sock"
#define MAX_REQUEST (1 << 20)
#define MAX_SESSIONS 1024

enum { REQ_SPAWN = 1, REQ_SIGNAL = 2, REQ_RESIZE = 3 };
/* Replies are 8 bytes: a type and a 32-bit value. */
enum { REP_STARTED = 'P', REP_EXITED = 'X', REP_DONE = 'K' };

struct reply {
  uint32_t type;
  int32_t value;
};

struct session {
  pid_t pid;
  int conn;   /* the client's connection, told of the exit */
  int master; /* pty master for resizes, or -1 */
  char token[64];
};

static struct session sessions[MAX_SESSIONS];

static void die(const char *what) {
  fprintf(stderr, "burrow-agent: %s: %s\n", what, strerror(errno));
  exit(255);
}

static int write_all(int fd, const void *buf, size_t len) {
  const char *p = buf;
  while (len) {
    ssize_t n = write(fd, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

static int read_all(int fd, void *buf, size_t len) {
  char *p = buf;
  while (len) {
    ssize_t n = read(fd, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

/* Sends a reply, optionally passing one descriptor along with it. */
static int send_reply(int conn, uint32_t type, int32_t value, int fd) {
  struct reply r = {type, value};
  struct iovec iov = {&r, sizeof r};
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } control;
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
  if (fd >= 0) {
    msg.msg_control = control.buf;
    msg.msg_controllen = sizeof control.buf;
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof(int));
  }
  return sendmsg(conn, &msg, MSG_NOSIGNAL) == sizeof r ? 0 : -1;
}

/* ---------------------------------------------------------------- requests on the wire -- */

/* A request is: u32 length, then `length` bytes of NUL-terminated strings, the first being the
 * request type. Spawn requests carry the client's stdin, stdout and stderr as SCM_RIGHTS. */
struct request {
  char *buf;
  char *fields[4097];
  int count;
  int fds[3];
  int nfds;
};

static int read_request(int conn, struct request *req) {
  uint32_t len;
  union {
    char buf[CMSG_SPACE(3 * sizeof(int))];
    struct cmsghdr align;
  } control;
  struct iovec iov = {&len, sizeof len};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf, .msg_controllen = sizeof control.buf};
  req->nfds = 0;
  if (recvmsg(conn, &msg, MSG_CMSG_CLOEXEC | MSG_WAITALL) != sizeof len) return -1;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      req->nfds = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
      if (req->nfds > 3) req->nfds = 3;
      memcpy(req->fds, CMSG_DATA(c), (size_t)req->nfds * sizeof(int));
    }
  }
  if (len == 0 || len > MAX_REQUEST) return -1;
  req->buf = malloc(len + 1);
  if (!req->buf || read_all(conn, req->buf, len) < 0) return -1;
  req->buf[len] = '\0';
  req->count = 0;
  for (char *p = req->buf; p < req->buf + len && req->count < 4096; p += strlen(p) + 1) req->fields[req->count++] = p;
  return 0;
}

static void free_request(struct request *req) {
  for (int i = 0; i < req->nfds; i++) close(req->fds[i]);
  free(req->buf);
}

/* ------------------------------------------------------------------------------- init -- */

static struct session *find_session(const char *token) {
  for (int i = 0; i < MAX_SESSIONS; i++)
    if (sessions[i].pid > 0 && strcmp(sessions[i].token, token) == 0) return &sessions[i];
  return NULL;
}

/* In the forked child: become the requested user in a new session, then exec. */
static void exec_child(struct request *req, int slave) {
  /* fields: "spawn" token uid gid cwd tty rows cols argc argv... env... */
  uid_t uid = (uid_t)strtoul(req->fields[2], NULL, 10);
  gid_t gid = (gid_t)strtoul(req->fields[3], NULL, 10);
  const char *cwd = req->fields[4];
  int argc = atoi(req->fields[8]);
  int envc = req->count - 9 - argc;
  char **argv = calloc((size_t)argc + 1, sizeof(char *));
  char **envp = calloc((size_t)envc + 1, sizeof(char *));
  if (!argv || !envp) _exit(126);
  memcpy(argv, &req->fields[9], (size_t)argc * sizeof(char *));
  memcpy(envp, &req->fields[9 + argc], (size_t)envc * sizeof(char *));

  sigset_t all;
  sigemptyset(&all);
  sigprocmask(SIG_SETMASK, &all, NULL);
  /* exec resets caught signals by itself, but not ignored ones: PID 1 ignores only SIGPIPE.
   * (Resetting all 64 costs a few ms under gVisor's ptrace platform, on every command.) */
  signal(SIGPIPE, SIG_DFL);
  setsid();
  if (slave >= 0) {
    ioctl(slave, TIOCSCTTY, 0);
    dup2(slave, 0);
    dup2(slave, 1);
    dup2(slave, 2);
  } else {
    for (int i = 0; i < 3; i++) dup2(req->fds[i], i);
  }
  struct passwd *pw = getpwuid(uid);
  if (pw ? initgroups(pw->pw_name, gid) : setgroups(0, NULL)) {
    fprintf(stderr, "burrow: cannot set groups: %s\n", strerror(errno));
    _exit(126);
  }
  if (setgid(gid) || setuid(uid)) {
    fprintf(stderr, "burrow: cannot become uid %u: %s\n", uid, strerror(errno));
    _exit(126);
  }
  if (chdir(cwd)) {
    fprintf(stderr, "burrow: cannot enter directory %s: %s\n", cwd, strerror(errno));
    _exit(126);
  }
  environ = envp; /* execvp searches the command's PATH, not the agent's */
  execvp(argv[0], argv);
  int e = errno;
  fprintf(stderr, "burrow: %s: %s\n", argv[0], e == ENOENT ? "command not found" : strerror(e));
  _exit(e == ENOENT ? 127 : 126);
}

static void spawn(int conn, struct request *req) {
  if (req->count < 10 || req->nfds != 3) {
    send_reply(conn, REP_EXITED, -EINVAL, -1);
    close(conn);
    return;
  }
  int argc = atoi(req->fields[8]);
  int tty = strcmp(req->fields[5], "1") == 0;
  if (argc < 1 || 9 + argc > req->count || strlen(req->fields[1]) >= sizeof sessions[0].token) {
    send_reply(conn, REP_EXITED, -EINVAL, -1);
    close(conn);
    return;
  }
  struct session *slot = NULL;
  for (int i = 0; i < MAX_SESSIONS && !slot; i++)
    if (sessions[i].pid == 0) slot = &sessions[i];
  if (!slot) {
    send_reply(conn, REP_EXITED, -EAGAIN, -1);
    close(conn);
    return;
  }

  int master = -1, slave = -1;
  if (tty) {
    master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master < 0 || grantpt(master) || unlockpt(master)) {
      send_reply(conn, REP_EXITED, -errno, -1);
      close(conn);
      return;
    }
    struct winsize ws = {.ws_row = (unsigned short)atoi(req->fields[6]), .ws_col = (unsigned short)atoi(req->fields[7])};
    ioctl(master, TIOCSWINSZ, &ws);
    slave = open(ptsname(master), O_RDWR | O_NOCTTY | O_CLOEXEC);
  }

  pid_t pid = fork();
  if (pid == 0) exec_child(req, slave);
  if (slave >= 0) close(slave);
  if (pid < 0) {
    send_reply(conn, REP_EXITED, -errno, -1);
    if (master >= 0) close(master);
    close(conn);
    return;
  }
  slot->pid = pid;
  slot->conn = conn;
  slot->master = master;
  snprintf(slot->token, sizeof slot->token, "%s", req->fields[1]);
  /* The client relays the terminal; we keep the master only to apply resizes. */
  send_reply(conn, REP_STARTED, pid, master);
}

static void control(int conn, struct request *req) {
  struct session *s = req->count >= 2 ? find_session(req->fields[1]) : NULL;
  int32_t result = 0;
  if (!s) {
    result = -ESRCH;
  } else if (strcmp(req->fields[0], "signal") == 0 && req->count == 3) {
    if (kill(-s->pid, atoi(req->fields[2])) && kill(s->pid, atoi(req->fields[2]))) result = -errno;
  } else if (strcmp(req->fields[0], "resize") == 0 && req->count == 4 && s->master >= 0) {
    struct winsize ws = {.ws_row = (unsigned short)atoi(req->fields[2]), .ws_col = (unsigned short)atoi(req->fields[3])};
    if (ioctl(s->master, TIOCSWINSZ, &ws)) result = -errno;
  } else {
    result = -EINVAL;
  }
  send_reply(conn, REP_DONE, result, -1);
  close(conn);
}

static void reap(void) {
  int status;
  pid_t pid;
  while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
    for (int i = 0; i < MAX_SESSIONS; i++) {
      if (sessions[i].pid != pid) continue;
      send_reply(sessions[i].conn, REP_EXITED, status, -1);
      close(sessions[i].conn);
      if (sessions[i].master >= 0) close(sessions[i].master);
      memset(&sessions[i], 0, sizeof sessions[i]);
    }
  }
}

/*
 * Under gVisor a fork bomb must be stopped by the sandbox's own kernel: the host's pids limit
 * would refuse the runtime a thread, and it dies with every process inside. The daemon passes
 * the cap in PID 1's environment rather than the bundle's rlimits, which runsc also applies to
 * the runtime's own host processes. Everything PID 1 forks inherits it; without
 * CAP_SYS_RESOURCE nothing inside can raise it.
 */
static void cap_processes(void) {
  const char *cap = getenv("BURROW_NPROC");
  if (!cap) return;
  struct rlimit limit = {.rlim_cur = strtoul(cap, NULL, 10), .rlim_max = strtoul(cap, NULL, 10)};
  if (limit.rlim_max > 0 && setrlimit(RLIMIT_NPROC, &limit)) perror("burrow-agent: setrlimit RLIMIT_NPROC");
  unsetenv("BURROW_NPROC");
}

__attribute__((noreturn)) static void run_init(void) {
  cap_processes();
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGCHLD);
  sigprocmask(SIG_BLOCK, &mask, NULL);
  int sfd = signalfd(-1, &mask, SFD_CLOEXEC);
  if (sfd < 0) die("signalfd");
  signal(SIGPIPE, SIG_IGN);

  mkdir(SOCKET_DIR, 0755);
  unlink(SOCKET_PATH);
  umask(077); /* no window in which the socket is reachable by others */
  int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  strcpy(addr.sun_path, SOCKET_PATH);
  if (lfd < 0 || bind(lfd, (struct sockaddr *)&addr, sizeof addr) || listen(lfd, 128)) die("listen " SOCKET_PATH);
  umask(022);
  /* Who may connect is who may run anything as anyone: root and the sudo group. gVisor's
   * SO_PEERCRED does not tell who connected, but it does enforce the socket file's mode. */
  struct group *sudo = getgrnam("sudo");
  chmod(SOCKET_DIR, 0755);
  if (sudo && chown(SOCKET_PATH, 0, sudo->gr_gid) == 0) chmod(SOCKET_PATH, 0660);
  else chmod(SOCKET_PATH, 0600);

  for (;;) {
    struct pollfd fds[2] = {{sfd, POLLIN, 0}, {lfd, POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) continue;
    if (fds[0].revents & POLLIN) {
      struct signalfd_siginfo info;
      while (read(sfd, &info, sizeof info) == sizeof info) break;
      reap();
    }
    if (fds[1].revents & POLLIN) {
      int conn = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
      if (conn < 0) continue;
      /* A client that connects and says nothing must not stall PID 1. */
      struct timeval tv = {.tv_sec = 5};
      setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      struct request req;
      memset(&req, 0, sizeof req);
      if (read_request(conn, &req) < 0 || req.count < 1) {
        close(conn);
      } else if (strcmp(req.fields[0], "spawn") == 0) {
        spawn(conn, &req);
      } else {
        control(conn, &req);
      }
      free_request(&req);
    }
  }
}

/* ----------------------------------------------------------------------------- client -- */

static int connect_agent(void) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  strcpy(addr.sun_path, SOCKET_PATH);
  /* Right after the sandbox starts, PID 1 may not be listening yet. */
  for (int tries = 0; tries < 200; tries++) {
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0) return fd;
    if (errno != ENOENT && errno != ECONNREFUSED) break;
    usleep(10000);
  }
  die("connect " SOCKET_PATH);
  return -1;
}

static void send_request(int fd, char **fields, int n, int pass_stdio) {
  size_t len = 0;
  for (int i = 0; i < n; i++) len += strlen(fields[i]) + 1;
  char *buf = malloc(len);
  if (!buf) die("malloc");
  char *p = buf;
  for (int i = 0; i < n; i++) p = stpcpy(p, fields[i]) + 1;
  uint32_t len32 = (uint32_t)len;
  struct iovec iov = {&len32, sizeof len32};
  union {
    char buf[CMSG_SPACE(3 * sizeof(int))];
    struct cmsghdr align;
  } control;
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
  if (pass_stdio) {
    int stdio[3] = {0, 1, 2};
    msg.msg_control = control.buf;
    msg.msg_controllen = sizeof control.buf;
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof stdio);
    memcpy(CMSG_DATA(c), stdio, sizeof stdio);
  }
  if (sendmsg(fd, &msg, MSG_NOSIGNAL) != sizeof len32 || write_all(fd, buf, len) < 0) die("send request");
  free(buf);
}

/* Reads one reply, and the descriptor passed with it if any. */
static int recv_reply(int fd, struct reply *r, int *passed) {
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } control;
  struct iovec iov = {r, sizeof *r};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf, .msg_controllen = sizeof control.buf};
  ssize_t n;
  do n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC | MSG_WAITALL);
  while (n < 0 && errno == EINTR);
  if (n != sizeof *r) return -1;
  if (passed) {
    *passed = -1;
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    if (c && c->cmsg_type == SCM_RIGHTS) memcpy(passed, CMSG_DATA(c), sizeof(int));
  }
  return 0;
}

static int exit_code(int32_t status) {
  if (status < 0) {
    fprintf(stderr, "burrow: cannot start the command: %s\n", strerror(-status));
    return 126;
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 255;
}

static volatile sig_atomic_t window_changed;
static void on_winch(int sig) {
  (void)sig;
  window_changed = 1;
}

/* Copies the terminal both ways until the command exits, then drains what it printed last. */
static int relay_tty(int conn, int master) {
  char buf[65536];
  int stdin_open = 1;
  for (;;) {
    struct pollfd fds[3] = {{conn, POLLIN, 0}, {master, POLLIN, 0}, {0, stdin_open ? POLLIN : 0, 0}};
    if (window_changed) {
      window_changed = 0;
      struct winsize ws;
      if (ioctl(0, TIOCGWINSZ, &ws) == 0) ioctl(master, TIOCSWINSZ, &ws);
    }
    if (poll(fds, 3, -1) < 0) {
      if (errno == EINTR) continue;
      return 255;
    }
    if (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = read(master, buf, sizeof buf);
      if (n > 0 && write_all(1, buf, (size_t)n) < 0) return 255;
    }
    if (stdin_open && (fds[2].revents & (POLLIN | POLLHUP))) {
      ssize_t n = read(0, buf, sizeof buf);
      if (n <= 0) stdin_open = 0;
      else write_all(master, buf, (size_t)n);
    }
    if (fds[0].revents & (POLLIN | POLLHUP)) {
      struct reply r;
      if (recv_reply(conn, &r, NULL) < 0) return 255;
      int flags = fcntl(master, F_GETFL);
      fcntl(master, F_SETFL, flags | O_NONBLOCK);
      ssize_t n;
      while ((n = read(master, buf, sizeof buf)) > 0) write_all(1, buf, (size_t)n);
      return exit_code(r.value);
    }
  }
}

static int run_exec(int argc, char **argv) {
  /* argv: exec TOKEN UID GID CWD TTY ROWS COLS -- CMD [ARG...] */
  if (argc < 10 || strcmp(argv[8], "--") != 0) {
    fprintf(stderr, "usage: burrow-agent exec TOKEN UID GID CWD TTY ROWS COLS -- CMD [ARG...]\n");
    return 2;
  }
  int cmdc = argc - 9;
  int envc = 0;
  while (environ[envc]) envc++;
  char count[16];
  snprintf(count, sizeof count, "%d", cmdc);
  int n = 0;
  char **fields = calloc((size_t)(10 + cmdc + envc), sizeof(char *));
  if (!fields) die("calloc");
  fields[n++] = "spawn";
  for (int i = 1; i <= 7; i++) fields[n++] = argv[i];
  fields[n++] = count;
  for (int i = 0; i < cmdc; i++) fields[n++] = argv[9 + i];
  for (int i = 0; i < envc; i++) fields[n++] = environ[i];

  int conn = connect_agent();
  send_request(conn, fields, n, 1);
  struct reply r;
  int master = -1;
  if (recv_reply(conn, &r, &master) < 0) die("read reply");
  if (r.type == REP_EXITED) return exit_code(r.value);
  if (master >= 0) return relay_tty(conn, master);
  /* The command writes straight into our stdout and stderr; we only wait for its status. */
  close(0);
  if (recv_reply(conn, &r, NULL) < 0) return 255;
  return exit_code(r.value);
}

static int run_control(int argc, char **argv, int expected) {
  if (argc != expected) {
    fprintf(stderr, "usage: burrow-agent signal TOKEN SIGNUM | resize TOKEN ROWS COLS\n");
    return 2;
  }
  int conn = connect_agent();
  send_request(conn, argv, argc, 0);
  struct reply r;
  if (recv_reply(conn, &r, NULL) < 0) die("read reply");
  if (r.value < 0) {
    fprintf(stderr, "burrow-agent: %s: %s\n", argv[0], strerror(-r.value));
    return 1;
  }
  return 0;
}

/* ------------------------------------------------------------------------------- sudo -- */

static int run_sudo(int argc, char **argv) {
  if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1) {
    execv("/usr/bin/sudo", argv); /* the real sudo works here */
    die("/usr/bin/sudo");
  }
  const char *user = "root";
  int preserve_env = 0, login = 0, shell = 0, i = 1;
  for (; i < argc && argv[i][0] == '-'; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--") == 0) {
      i++;
      break;
    } else if (strcmp(a, "-u") == 0 && i + 1 < argc) {
      user = argv[++i];
    } else if (strncmp(a, "--user=", 7) == 0) {
      user = a + 7;
    } else if (strcmp(a, "-E") == 0 || strcmp(a, "--preserve-env") == 0) {
      preserve_env = 1;
    } else if (strcmp(a, "-i") == 0 || strcmp(a, "--login") == 0) {
      login = 1;
    } else if (strcmp(a, "-s") == 0 || strcmp(a, "--shell") == 0) {
      shell = 1;
    } else if (strcmp(a, "-n") && strcmp(a, "-H") && strcmp(a, "-k") && strcmp(a, "-S") && strcmp(a, "--non-interactive")) {
      fprintf(stderr, "sudo: option %s is not supported in this sandbox (burrow runs sudo through its agent)\n", a);
      return 1;
    }
  }
  struct passwd *caller = getpwuid(getuid());
  const char *caller_name = caller ? strdup(caller->pw_name) : "this user";
  struct passwd *pw = user[0] == '#' ? getpwuid((uid_t)strtoul(user + 1, NULL, 10)) : getpwnam(user);
  if (!pw) {
    fprintf(stderr, "sudo: unknown user %s\n", user);
    return 1;
  }
  if (i == argc && !login && !shell) {
    fprintf(stderr, "usage: sudo [-u user] [-E] [-i | -s] [command [arg ...]]\n");
    return 1;
  }

  /* The command line, as sudo builds it: a login or plain shell, or the command itself. */
  int extra = argc - i;
  char **cmd = calloc((size_t)extra + 4, sizeof(char *));
  int n = 0;
  const char *sh = login ? pw->pw_shell : (getenv("SHELL") ? getenv("SHELL") : pw->pw_shell);
  if (login || shell) {
    cmd[n++] = (char *)sh;
    if (login) cmd[n++] = "-l";
    if (extra) {
      size_t len = 1;
      for (int k = i; k < argc; k++) len += strlen(argv[k]) + 1;
      char *line = calloc(len, 1);
      for (int k = i; k < argc; k++) {
        strcat(line, argv[k]);
        if (k + 1 < argc) strcat(line, " ");
      }
      cmd[n++] = "-c";
      cmd[n++] = line;
    }
  } else {
    for (int k = i; k < argc; k++) cmd[n++] = argv[k];
  }

  /* sudo's env_reset: a clean environment for the target user, unless -E. */
  char home[4096], logname[256], userenv[256], shellenv[4096];
  snprintf(home, sizeof home, "HOME=%s", pw->pw_dir);
  snprintf(logname, sizeof logname, "LOGNAME=%s", pw->pw_name);
  snprintf(userenv, sizeof userenv, "USER=%s", pw->pw_name);
  snprintf(shellenv, sizeof shellenv, "SHELL=%s", pw->pw_shell);
  if (!preserve_env) {
    static char *keep[] = {"TERM", "LANG", "LC_ALL", "COLORTERM", "DISPLAY", NULL};
    char *kept[8];
    int kn = 0;
    for (char **k = keep; *k; k++) {
      const char *v = getenv(*k);
      if (!v) continue;
      kept[kn] = malloc(strlen(*k) + strlen(v) + 2);
      sprintf(kept[kn++], "%s=%s", *k, v);
    }
    clearenv();
    for (int k = 0; k < kn; k++) putenv(kept[k]);
    putenv("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
  }
  putenv(home);
  putenv(logname);
  putenv(userenv);
  putenv(shellenv);

  if (access(SOCKET_PATH, W_OK) && errno == EACCES) {
    fprintf(stderr, "sudo: %s is not allowed to run sudo in this sandbox\n", caller_name);
    return 1;
  }
  char cwd[4096];
  if (login || !getcwd(cwd, sizeof cwd)) snprintf(cwd, sizeof cwd, "%s", pw->pw_dir);
  char uid[16], gid[16], rows[16] = "0", cols[16] = "0", token[64];
  snprintf(uid, sizeof uid, "%u", pw->pw_uid);
  snprintf(gid, sizeof gid, "%u", pw->pw_gid);
  snprintf(token, sizeof token, "sudo-%d-%ld", getpid(), (long)time(NULL));
  struct winsize ws;
  int tty = isatty(0) && isatty(1) && ioctl(0, TIOCGWINSZ, &ws) == 0;
  if (tty) {
    snprintf(rows, sizeof rows, "%u", ws.ws_row);
    snprintf(cols, sizeof cols, "%u", ws.ws_col);
  }
  char *exec_argv[16 + 4096];
  int e = 0;
  exec_argv[e++] = "exec";
  exec_argv[e++] = token;
  exec_argv[e++] = uid;
  exec_argv[e++] = gid;
  exec_argv[e++] = cwd;
  exec_argv[e++] = tty ? "1" : "0";
  exec_argv[e++] = rows;
  exec_argv[e++] = cols;
  exec_argv[e++] = "--";
  for (int k = 0; k < n && e < 16 + 4095; k++) exec_argv[e++] = cmd[k];
  exec_argv[e] = NULL;

  /* On a terminal the command gets a terminal of its own; ours is put in raw mode to relay it. */
  struct termios saved;
  if (tty) {
    tcgetattr(0, &saved);
    struct termios raw = saved;
    cfmakeraw(&raw);
    tcsetattr(0, TCSANOW, &raw);
    signal(SIGWINCH, on_winch);
  }
  int code = run_exec(e, exec_argv);
  if (tty) tcsetattr(0, TCSANOW, &saved);
  return code;
}

int main(int argc, char **argv) {
  if (strcmp(basename(argv[0]), "sudo") == 0) return run_sudo(argc, argv);
  if (argc >= 2 && strcmp(argv[1], "init") == 0) run_init();
  if (argc >= 2 && strcmp(argv[1], "exec") == 0) return run_exec(argc - 1, argv + 1);
  if (argc >= 2 && strcmp(argv[1], "signal") == 0) return run_control(argc - 1, argv + 1, 3);
  if (argc >= 2 && strcmp(argv[1], "resize") == 0) return run_control(argc - 1, argv + 1, 4);
  fprintf(stderr, "usage: burrow-agent init | exec ... | signal ... | resize ...\n");
  return 2;
}

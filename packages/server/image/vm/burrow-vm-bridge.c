/*
 * burrow-vm-bridge: the guest end of the channel between the daemon and a `vm` sandbox.
 *
 * A microVM shares no file descriptors with the host, so the daemon cannot hand a command its
 * stdio the way it does for containers. This program holds one virtio-serial port (or vsock
 * stream) and multiplexes commands over it with small frames:
 *
 *   frame  = type (u8) | command id (u32 LE) | payload length (u32 LE) | payload
 *   host -> guest:
 *     EXEC        uid u32 | gid u32 | argc u32 | envc u32 | cwd NUL | argv NUL... | env NUL...
 *     STDIN       bytes, never more than STDIN_WINDOW unacknowledged (see STDIN_ACK)
 *     STDIN_EOF
 *     KILL        signal number (i32), sent to the command's process group
 *     OUTPUT_ACK  stdout bytes (u32) | stderr bytes (u32) the host has passed on
 *     HELLO       first frame of every host connection: the commands of the host before are
 *                 SIGKILLed and forgotten (nobody reads them, and their ids are reused)
 *   guest -> host:
 *     READY       once, when the guest is up
 *     STARTED     the command's pid (i32), once it has exec'd
 *     STDOUT | STDERR   bytes, never more than OUTPUT_WINDOW per stream unacknowledged
 *     STDIN_ACK   bytes (u32) written to the command's stdin: the host may send as many more
 *     EXIT        code (i32: exit status, or 128 + signal) | signal (i32, 0 if it exited);
 *                 sent after every byte of the command's output
 *     ERROR       text: the command could not be started (no STARTED, no EXIT follow)
 *
 * No command can stall another or the bridge: stdin is queued (at most STDIN_WINDOW bytes per
 * command, which the host's credit guarantees) and written without blocking as the command
 * reads; output is read only while the host has acknowledged enough of it, so a consumer that
 * does not read stops its command (the pipe fills), not the others. Memory stays bounded:
 * MAX_COMMANDS queues of STDIN_WINDOW bytes. Children are reaped as SIGCHLD arrives (a self-pipe
 * wakes poll), not by polling.
 *
 * When the host end hangs up (the daemon stops), its commands are SIGKILLed and forgotten: no
 * one is left to read their output, and the next host starts numbering commands afresh. The
 * guest is not always told of a hang-up (QEMU's socket may close without the port noticing),
 * so a new host also says HELLO first, which does the same.
 *
 * It is started by the initramfs before the switch to the sandbox's disk: it opens the port,
 * chroots into the disk's mount (which becomes / a moment later) and serves from there. PID 1 of
 * the disk (burrow-agent init) stays what it is in containers. Built static on the host, so it
 * needs nothing from the image.
 *
 *   burrow-vm-bridge PORT_DEVICE NEW_ROOT STARTED_FILE
 *
 * STARTED_FILE is created (outside NEW_ROOT) once the program runs: the initramfs waits for it
 * before switch_root deletes the initramfs's files, this program's among them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

enum {
  EXEC = 1, STDIN_DATA = 2, STDIN_EOF = 3, KILL = 4, OUTPUT_ACK = 5, HELLO = 6,
  READY = 10, STDOUT_DATA = 11, STDERR_DATA = 12, EXIT = 13, ERROR = 14, STDIN_ACK = 15, STARTED = 16,
};
#define MAX_COMMANDS 64
#define MAX_PAYLOAD (1 << 20)
#define MAX_ARGS 4096
/* Must match guest-channel.ts. */
#define STDIN_WINDOW (256 * 1024)
#define OUTPUT_WINDOW (256 * 1024)
#define READ_CHUNK 65536

extern char **environ;

struct output {
  int fd; /* -1 once it reached end of file */
  uint8_t frame;
  uint32_t unacked;
};

struct command {
  int used;
  uint32_t id;
  pid_t pid;
  int in; /* -1 once closed */
  int eof_pending; /* STDIN_EOF arrived while input was still queued */
  char *queue; /* STDIN_WINDOW bytes, allocated with the first input */
  size_t head, len;
  struct output out[2];
  int reaped;
  int code, signal;
};

static struct command commands[MAX_COMMANDS];
static int port = -1;
static int sigchld_pipe[2];

static void write_all(const void *buf, size_t len) {
  const char *p = buf;
  while (len) {
    ssize_t n = write(port, p, len);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      _exit(3); /* the port is gone: nothing left to serve */
    }
    p += n;
    len -= (size_t)n;
  }
}

static void send_frame(uint8_t type, uint32_t id, const void *payload, uint32_t len) {
  unsigned char head[9];
  head[0] = type;
  memcpy(head + 1, &id, 4);
  memcpy(head + 5, &len, 4);
  write_all(head, sizeof head);
  if (len) write_all(payload, len);
}

static void send_u32(uint8_t type, uint32_t id, uint32_t value) {
  send_frame(type, id, &value, 4);
}

static void send_error(uint32_t id, const char *what, int error) {
  char text[512];
  snprintf(text, sizeof text, "%s: %s", what, strerror(error));
  send_frame(ERROR, id, text, (uint32_t)strlen(text));
}

static struct command *find(uint32_t id) {
  for (int i = 0; i < MAX_COMMANDS; i++)
    if (commands[i].used && commands[i].id == id) return &commands[i];
  return NULL;
}

static void on_sigchld(int sig) {
  (void)sig;
  int saved = errno;
  (void)!write(sigchld_pipe[1], "", 1);
  errno = saved;
}

static void close_input(struct command *c) {
  if (c->in >= 0) close(c->in);
  c->in = -1;
  free(c->queue);
  c->queue = NULL;
  c->head = c->len = 0;
}

/* What the child reports through its status pipe when it cannot exec: errno, then the step. */
struct launch_failure {
  int error;
  char step[64];
};

static void fail_launch(int status_fd, const char *step) {
  struct launch_failure failure = {.error = errno};
  snprintf(failure.step, sizeof failure.step, "%s", step);
  (void)!write(status_fd, &failure, sizeof failure);
  _exit(127);
}

static uint32_t read_u32(const char *p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}

/* Splits `count` NUL-terminated strings off [*p, end) into out; -1 if they are not all there. */
static int take_strings(char **p, char *end, char **out, uint32_t count) {
  for (uint32_t i = 0; i < count; i++) {
    char *nul = memchr(*p, '\0', (size_t)(end - *p));
    if (!nul) return -1;
    out[i] = *p;
    *p = nul + 1;
  }
  out[count] = NULL;
  return 0;
}

static void start(uint32_t id, char *payload, uint32_t len) {
  struct command *slot = NULL;
  for (int i = 0; i < MAX_COMMANDS && !slot; i++)
    if (!commands[i].used) slot = &commands[i];
  if (!slot) return send_error(id, "exec", EAGAIN);
  if (find(id) || len < 16) return send_error(id, "exec", EINVAL);
  uint32_t uid = read_u32(payload), gid = read_u32(payload + 4), argc = read_u32(payload + 8), envc = read_u32(payload + 12);
  if (argc == 0 || argc > MAX_ARGS || envc > MAX_ARGS) return send_error(id, "exec", E2BIG);
  static char *argv[MAX_ARGS + 1], *envp[MAX_ARGS + 1];
  char *cwd[2];
  char *p = payload + 16, *end = payload + len;
  if (take_strings(&p, end, cwd, 1) || take_strings(&p, end, argv, argc) || take_strings(&p, end, envp, envc) || p != end)
    return send_error(id, "exec", EINVAL);

  int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1}, status[2] = {-1, -1};
  if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC) || pipe2(status, O_CLOEXEC)) {
    int e = errno;
    for (int i = 0; i < 2; i++) {
      if (in[i] >= 0) close(in[i]);
      if (out[i] >= 0) close(out[i]);
      if (err[i] >= 0) close(err[i]);
      if (status[i] >= 0) close(status[i]);
    }
    return send_error(id, "pipe", e);
  }
  pid_t pid = fork();
  if (pid == 0) {
    setsid();
    dup2(in[0], 0);
    dup2(out[1], 1);
    dup2(err[1], 2);
    signal(SIGPIPE, SIG_DFL);
    signal(SIGCHLD, SIG_DFL);
    if (setgroups(0, NULL) || setgid(gid) || setuid(uid)) fail_launch(status[1], "setuid");
    if (chdir(cwd[0])) fail_launch(status[1], "chdir");
    /* execvpe searches the PATH of the environment the command gets. */
    environ = envp;
    execvpe(argv[0], argv, envp);
    fail_launch(status[1], "exec");
  }
  close(in[0]);
  close(out[1]);
  close(err[1]);
  close(status[1]);
  struct launch_failure failure;
  ssize_t n = pid < 0 ? 0 : read(status[0], &failure, sizeof failure); /* 0: exec closed it */
  while (n < 0 && errno == EINTR) n = read(status[0], &failure, sizeof failure);
  close(status[0]);
  if (pid < 0 || n > 0) {
    char what[4200];
    if (pid < 0) failure.error = errno, snprintf(what, sizeof what, "fork");
    else snprintf(what, sizeof what, "%.63s %.4000s", failure.step, failure.step[0] == 'c' ? cwd[0] : argv[0]);
    if (pid > 0) waitpid(pid, NULL, 0);
    close(in[1]);
    close(out[0]);
    close(err[0]);
    return send_error(id, what, failure.error);
  }
  fcntl(in[1], F_SETFL, O_NONBLOCK);
  fcntl(out[0], F_SETFL, O_NONBLOCK);
  fcntl(err[0], F_SETFL, O_NONBLOCK);
  *slot = (struct command){
    .used = 1,
    .id = id,
    .pid = pid,
    .in = in[1],
    .out = {{.fd = out[0], .frame = STDOUT_DATA}, {.fd = err[0], .frame = STDERR_DATA}},
  };
  send_u32(STARTED, id, (uint32_t)pid);
}

/* Writes queued input as far as the command takes it without blocking, and credits the host. */
static void flush_input(struct command *c) {
  size_t written = 0;
  while (c->in >= 0 && c->len) {
    ssize_t n = write(c->in, c->queue + c->head, c->len);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) break;
      /* The command closed its stdin: what is queued is dropped, and credited all the same. */
      written += c->len;
      close_input(c);
      break;
    }
    c->head += (size_t)n;
    c->len -= (size_t)n;
    written += (size_t)n;
  }
  if (!c->len) c->head = 0;
  if (c->in >= 0 && !c->len && c->eof_pending) close_input(c);
  if (written) send_u32(STDIN_ACK, c->id, (uint32_t)written);
}

static void queue_input(struct command *c, uint32_t id, const char *data, uint32_t len) {
  if (!len) return;
  /* Input for a command that is gone or no longer reads is credited back and dropped. */
  if (!c || c->in < 0 || c->eof_pending) return send_u32(STDIN_ACK, id, len);
  if (!c->queue && !(c->queue = malloc(STDIN_WINDOW))) {
    close_input(c);
    return send_u32(STDIN_ACK, id, len);
  }
  if (c->len + len > STDIN_WINDOW) len = STDIN_WINDOW - (uint32_t)c->len; /* the host overran its credit */
  if (c->head + c->len + len > STDIN_WINDOW) {
    memmove(c->queue, c->queue + c->head, c->len);
    c->head = 0;
  }
  memcpy(c->queue + c->head + c->len, data, len);
  c->len += len;
  flush_input(c);
}

/* The host before hung up: nobody will read what its commands write, or ask for their exit. */
static void forget_commands(void) {
  for (int i = 0; i < MAX_COMMANDS; i++) {
    struct command *c = &commands[i];
    if (!c->used) continue;
    if (!c->reaped) kill(-c->pid, SIGKILL), kill(c->pid, SIGKILL);
    close_input(c);
    for (int k = 0; k < 2; k++)
      if (c->out[k].fd >= 0) close(c->out[k].fd);
    memset(c, 0, sizeof *c);
  }
}

static int read_full(void *buf, size_t len) {
  char *p = buf;
  while (len) {
    ssize_t n = read(port, p, len);
    if (n == 0) return -1;
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return -1;
    }
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

/* The host writes whole frames; a frame is read whole before anything else is served. */
static int serve_frame(void) {
  unsigned char head[9];
  if (read_full(head, sizeof head)) return -1;
  uint32_t id, len;
  memcpy(&id, head + 1, 4);
  memcpy(&len, head + 5, 4);
  if (len > MAX_PAYLOAD) return -1;
  char *payload = malloc(len + 1);
  if (!payload) return -1;
  if (read_full(payload, len)) {
    free(payload);
    return -1;
  }
  struct command *c = find(id);
  switch (head[0]) {
  case EXEC:
    start(id, payload, len);
    break;
  case STDIN_DATA:
    queue_input(c, id, payload, len);
    break;
  case STDIN_EOF:
    if (c && c->in >= 0) {
      c->eof_pending = 1;
      if (!c->len) close_input(c);
    }
    break;
  case KILL:
    /* To the group even once its leader is reaped: what it left behind may hold the output open
     * (the pid cannot be reused while it names a group with members). */
    if (c && len == 4) {
      int sig = (int)read_u32(payload);
      if (kill(-c->pid, sig) && errno == ESRCH && !c->reaped) kill(c->pid, sig);
    }
    break;
  case HELLO:
    forget_commands();
    break;
  case OUTPUT_ACK:
    if (c && len == 8)
      for (int k = 0; k < 2; k++) {
        uint32_t acked = read_u32(payload + 4 * k);
        c->out[k].unacked = acked > c->out[k].unacked ? 0 : c->out[k].unacked - acked;
      }
    break;
  }
  free(payload);
  return 0;
}

static void drain(struct command *c, struct output *o) {
  static char buf[READ_CHUNK];
  size_t room = OUTPUT_WINDOW - o->unacked;
  ssize_t n = read(o->fd, buf, room < sizeof buf ? room : sizeof buf);
  if (n > 0) {
    o->unacked += (uint32_t)n;
    send_frame(o->frame, c->id, buf, (uint32_t)n);
    return;
  }
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
  close(o->fd);
  o->fd = -1;
}

static void reap(void) {
  char sink[64];
  while (read(sigchld_pipe[0], sink, sizeof sink) > 0) {}
  int status;
  pid_t pid;
  while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
    for (int i = 0; i < MAX_COMMANDS; i++) {
      struct command *c = &commands[i];
      if (!c->used || c->pid != pid) continue;
      c->reaped = 1;
      c->signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
      c->code = c->signal ? 128 + c->signal : WEXITSTATUS(status);
    }
  }
}

/* EXIT goes last, after every byte of output the command wrote. */
static void finish_done(void) {
  for (int i = 0; i < MAX_COMMANDS; i++) {
    struct command *c = &commands[i];
    if (!c->used || !c->reaped || c->out[0].fd >= 0 || c->out[1].fd >= 0) continue;
    int32_t status[2] = {c->code, c->signal};
    send_frame(EXIT, c->id, status, sizeof status);
    close_input(c);
    memset(c, 0, sizeof *c);
  }
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: burrow-vm-bridge PORT_DEVICE NEW_ROOT STARTED_FILE\n");
    return 2;
  }
  port = open(argv[1], O_RDWR | O_CLOEXEC);
  if (port < 0) {
    perror(argv[1]);
    return 1;
  }
  int started = open(argv[3], O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  if (started >= 0) close(started);
  if (chdir(argv[2]) || chroot(".") || chdir("/")) {
    perror("chroot");
    return 1;
  }
  signal(SIGPIPE, SIG_IGN);
  if (pipe2(sigchld_pipe, O_CLOEXEC | O_NONBLOCK)) {
    perror("pipe");
    return 1;
  }
  struct sigaction chld = {.sa_handler = on_sigchld, .sa_flags = SA_RESTART | SA_NOCLDSTOP};
  sigaction(SIGCHLD, &chld, NULL);
  send_frame(READY, 0, NULL, 0);
  for (;;) {
    struct pollfd fds[2 + 3 * MAX_COMMANDS];
    struct command *owner[2 + 3 * MAX_COMMANDS];
    struct output *stream[2 + 3 * MAX_COMMANDS];
    int n = 0;
    fds[n++] = (struct pollfd){.fd = port, .events = POLLIN};
    fds[n++] = (struct pollfd){.fd = sigchld_pipe[0], .events = POLLIN};
    for (int i = 0; i < MAX_COMMANDS; i++) {
      struct command *c = &commands[i];
      if (!c->used) continue;
      if (c->in >= 0 && c->len) owner[n] = c, stream[n] = NULL, fds[n++] = (struct pollfd){.fd = c->in, .events = POLLOUT};
      for (int k = 0; k < 2; k++) {
        struct output *o = &c->out[k];
        /* Not read while the host has not acknowledged a window's worth: the command waits. */
        if (o->fd >= 0 && o->unacked < OUTPUT_WINDOW) owner[n] = c, stream[n] = o, fds[n++] = (struct pollfd){.fd = o->fd, .events = POLLIN};
      }
    }
    if (poll(fds, (nfds_t)n, -1) < 0) {
      if (errno == EINTR) continue;
      return 1;
    }
    if (fds[1].revents) reap();
    if (fds[0].revents & (POLLIN | POLLHUP)) {
      if (serve_frame()) {
        if (!(fds[0].revents & POLLHUP)) return 1;
        forget_commands();
        usleep(100000); /* no host connected (yet, or any more) */
        continue;
      }
    }
    for (int i = 2; i < n; i++) {
      if (!fds[i].revents || !owner[i]->used) continue;
      if (stream[i]) {
        if (stream[i]->fd == fds[i].fd) drain(owner[i], stream[i]);
      } else if (owner[i]->in == fds[i].fd) {
        flush_input(owner[i]);
      }
    }
    finish_done();
  }
}

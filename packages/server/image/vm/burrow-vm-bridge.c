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
 *                 SIGKILLed and forgotten (nobody reads them, and their ids are reused), and
 *                 so are its relayed connections
 *     OFFER       (id: socket id) mode u32 | guest path: listen there for the host's socket
 *                 of that id; an offer already made with the same id and path is kept
 *     CONN_DATA   (id: connection id) bytes, never more than CONN_WINDOW unacknowledged
 *     CONN_EOF    the host's socket ended: the guest's end is shut down for writing once
 *                 what is queued is written
 *     CONN_ACK    bytes (u32) of CONN_DATA the host has written to its socket
 *     CONN_CLOSE  the host's connection is gone (or never came): closed once what is queued is
 *                 written; no frame of that id follows
 *   guest -> host:
 *     READY       once, when the guest is up
 *     STARTED     the command's pid (i32), once it has exec'd
 *     STDOUT | STDERR   bytes, never more than OUTPUT_WINDOW per stream unacknowledged
 *     STDIN_ACK   bytes (u32) written to the command's stdin: the host may send as many more
 *     EXIT        code (i32: exit status, or 128 + signal) | signal (i32, 0 if it exited);
 *                 sent after every byte of the command's output
 *     ERROR       text: the command could not be started (no STARTED, no EXIT follow)
 *     OPEN        (id: a new connection id) socket id (u32): a program connected to an offered
 *                 socket; the host connects to its own socket of that id, or answers CONN_CLOSE
 *     CONN_DATA | CONN_EOF | CONN_ACK | CONN_CLOSE   as the host's, the other way
 *
 * No command can stall another or the bridge: stdin is queued (at most STDIN_WINDOW bytes per
 * command, which the host's credit guarantees) and written without blocking as the command
 * reads; output is read only while the host has acknowledged enough of it, so a consumer that
 * does not read stops its command (the pipe fills), not the others. Memory stays bounded:
 * MAX_COMMANDS queues of STDIN_WINDOW bytes. Children are reaped as SIGCHLD arrives (a self-pipe
 * wakes poll), not by polling.
 *
 * Sockets the host offers (the in-sandbox API) are relayed the same way: the bridge listens at
 * the path the host chose, and each connection accepted becomes OPEN and then data both ways
 * under CONN_WINDOW of credit per direction; the guest names only the socket's id, never a host
 * path. Connections wait in the listen backlog while no host is connected, and at most
 * MAX_CONNS are open at once.
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
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

enum {
  EXEC = 1, STDIN_DATA = 2, STDIN_EOF = 3, KILL = 4, OUTPUT_ACK = 5, HELLO = 6,
  READY = 10, STDOUT_DATA = 11, STDERR_DATA = 12, EXIT = 13, ERROR = 14, STDIN_ACK = 15, STARTED = 16,
  OFFER = 20, HOST_CONN_DATA = 21, HOST_CONN_EOF = 22, HOST_CONN_ACK = 23, HOST_CONN_CLOSE = 24,
  OPEN = 30, CONN_DATA = 31, CONN_EOF = 32, CONN_ACK = 33, CONN_CLOSE = 34,
};
#define MAX_COMMANDS 64
#define MAX_PAYLOAD (1 << 20)
#define MAX_ARGS 4096
/* Must match guest-channel.ts. */
#define STDIN_WINDOW (256 * 1024)
#define OUTPUT_WINDOW (256 * 1024)
#define READ_CHUNK 65536
#define MAX_OFFERS 16
#define MAX_CONNS 64
/* Must match guest-sockets.ts. */
#define CONN_WINDOW (256 * 1024)

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

struct offer {
  int fd; /* the listening socket; -1: slot free */
  uint32_t id;
  char path[sizeof ((struct sockaddr_un *)0)->sun_path];
};

/* A connection accepted on an offered socket, relayed to the host. */
struct conn {
  int used;
  uint32_t id;
  int fd;
  uint32_t unacked; /* sent to the host, not yet acknowledged */
  int read_eof; /* the program shut down its end: CONN_EOF sent */
  int host_eof, shut; /* CONN_EOF came; the socket was shut down for writing */
  int host_closed; /* CONN_CLOSE came: the connection ends once the queue is written */
  char *queue; /* CONN_WINDOW bytes, allocated with the first data */
  size_t head, len;
};

static struct offer offers[MAX_OFFERS];
static struct conn conns[MAX_CONNS];
static uint32_t next_conn_id = 1;
/* A host is connected (it said HELLO or offered): accepted connections have somewhere to go. */
static int host_up;
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

static struct conn *find_conn(uint32_t id) {
  for (int i = 0; i < MAX_CONNS; i++)
    if (conns[i].used && conns[i].id == id) return &conns[i];
  return NULL;
}

static void free_conn(struct conn *c) {
  close(c->fd);
  free(c->queue);
  memset(c, 0, sizeof *c);
}

/* The host before hung up: its ends of the connections are gone. */
static void forget_conns(void) {
  for (int i = 0; i < MAX_CONNS; i++)
    if (conns[i].used) free_conn(&conns[i]);
}

static void offer(uint32_t id, const char *payload, uint32_t len) {
  if (len < 5 || len - 4 >= sizeof offers[0].path || memchr(payload + 4, '\0', len - 4)) return;
  mode_t mode = read_u32(payload) & 0777;
  char path[sizeof offers[0].path] = {0};
  memcpy(path, payload + 4, len - 4);
  struct offer *slot = NULL;
  for (int i = 0; i < MAX_OFFERS; i++) {
    if (offers[i].fd >= 0 && offers[i].id == id) {
      if (!strcmp(offers[i].path, path)) return;
      close(offers[i].fd);
      offers[i].fd = -1;
    }
    if (offers[i].fd < 0 && !slot) slot = &offers[i];
  }
  if (!slot) return;
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  memcpy(addr.sun_path, path, sizeof path);
  unlink(path); /* a socket file left on the disk by an earlier boot */
  if (bind(fd, (struct sockaddr *)&addr, sizeof addr) || chmod(path, mode) || listen(fd, 64)) {
    fprintf(stderr, "burrow-vm-bridge: cannot offer %s: %s\n", path, strerror(errno));
    close(fd);
    return;
  }
  *slot = (struct offer){.fd = fd, .id = id};
  memcpy(slot->path, path, sizeof path);
}

static void accept_conn(struct offer *o) {
  struct conn *slot = NULL;
  for (int i = 0; i < MAX_CONNS && !slot; i++)
    if (!conns[i].used) slot = &conns[i];
  if (!slot) return; /* not polled while full */
  int fd = accept4(o->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd < 0) return;
  *slot = (struct conn){.used = 1, .id = next_conn_id++, .fd = fd};
  send_u32(OPEN, slot->id, o->id);
}

/* Writes queued host data as far as the program takes it, credits the host, and ends the
 * connection as the host asked once the queue is empty. */
static void flush_conn(struct conn *c) {
  size_t written = 0;
  while (c->len) {
    ssize_t n = write(c->fd, c->queue + c->head, c->len);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) break;
      /* The program is gone: the host's end is closed too. */
      send_frame(CONN_CLOSE, c->id, NULL, 0);
      return free_conn(c);
    }
    c->head += (size_t)n;
    c->len -= (size_t)n;
    written += (size_t)n;
  }
  if (!c->len) c->head = 0;
  if (written && !c->host_closed) send_u32(CONN_ACK, c->id, (uint32_t)written);
  if (c->len) return;
  if (c->host_closed) return free_conn(c);
  if (c->host_eof && !c->shut) shutdown(c->fd, SHUT_WR), c->shut = 1;
}

static void queue_conn(struct conn *c, const char *data, uint32_t len) {
  if (!c || !len || c->host_eof || c->host_closed) return;
  if (!c->queue && !(c->queue = malloc(CONN_WINDOW))) {
    send_frame(CONN_CLOSE, c->id, NULL, 0);
    return free_conn(c);
  }
  if (c->len + len > CONN_WINDOW) len = CONN_WINDOW - (uint32_t)c->len; /* the host overran its credit */
  if (c->head + c->len + len > CONN_WINDOW) {
    memmove(c->queue, c->queue + c->head, c->len);
    c->head = 0;
  }
  memcpy(c->queue + c->head + c->len, data, len);
  c->len += len;
  flush_conn(c);
}

/* What the program sent, while the host has credited room for it. */
static void relay_conn(struct conn *c) {
  static char buf[READ_CHUNK];
  size_t room = CONN_WINDOW - c->unacked;
  ssize_t n = read(c->fd, buf, room < sizeof buf ? room : sizeof buf);
  if (n > 0) {
    c->unacked += (uint32_t)n;
    return send_frame(CONN_DATA, c->id, buf, (uint32_t)n);
  }
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
  if (n == 0) {
    c->read_eof = 1;
    return send_frame(CONN_EOF, c->id, NULL, 0);
  }
  send_frame(CONN_CLOSE, c->id, NULL, 0);
  free_conn(c);
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
    forget_conns();
    host_up = 1;
    break;
  case OFFER:
    offer(id, payload, len);
    host_up = 1;
    break;
  case HOST_CONN_DATA:
    queue_conn(find_conn(id), payload, len);
    break;
  case HOST_CONN_EOF: {
    struct conn *k = find_conn(id);
    if (k) k->host_eof = 1, flush_conn(k);
    break;
  }
  case HOST_CONN_ACK: {
    struct conn *k = find_conn(id);
    if (k && len == 4) {
      uint32_t acked = read_u32(payload);
      k->unacked = acked > k->unacked ? 0 : k->unacked - acked;
    }
    break;
  }
  case HOST_CONN_CLOSE: {
    struct conn *k = find_conn(id);
    if (k) k->host_closed = 1, flush_conn(k);
    break;
  }
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
  for (int i = 0; i < MAX_OFFERS; i++) offers[i].fd = -1;
  send_frame(READY, 0, NULL, 0);
  enum { MAX_FDS = 2 + 3 * MAX_COMMANDS + MAX_OFFERS + MAX_CONNS };
  for (;;) {
    struct pollfd fds[MAX_FDS];
    struct command *owner[MAX_FDS];
    struct output *stream[MAX_FDS];
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
    int first_socket = n;
    int conns_free = 0;
    for (int i = 0; i < MAX_CONNS; i++) conns_free += !conns[i].used;
    struct offer *listening[MAX_FDS];
    struct conn *relayed[MAX_FDS];
    for (int i = 0; i < MAX_OFFERS && host_up && conns_free; i++)
      if (offers[i].fd >= 0) listening[n] = &offers[i], relayed[n] = NULL, fds[n++] = (struct pollfd){.fd = offers[i].fd, .events = POLLIN};
    for (int i = 0; i < MAX_CONNS; i++) {
      struct conn *c = &conns[i];
      if (!c->used) continue;
      short events = (c->len ? POLLOUT : 0) | (!c->read_eof && !c->host_closed && c->unacked < CONN_WINDOW ? POLLIN : 0);
      if (events) listening[n] = NULL, relayed[n] = c, fds[n++] = (struct pollfd){.fd = c->fd, .events = events};
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
        forget_conns();
        host_up = 0;
        usleep(100000); /* no host connected (yet, or any more) */
        continue;
      }
    }
    for (int i = first_socket; i < n && host_up; i++) {
      if (!fds[i].revents) continue;
      if (listening[i]) {
        if (listening[i]->fd == fds[i].fd) accept_conn(listening[i]);
        continue;
      }
      struct conn *c = relayed[i];
      /* A frame served above may have ended it, or a new connection taken its slot. */
      if (!c->used || c->fd != fds[i].fd) continue;
      if (fds[i].revents & POLLOUT || (c->len && fds[i].revents & (POLLERR | POLLHUP))) flush_conn(c);
      if (c->used && c->fd == fds[i].fd && fds[i].revents & (POLLIN | POLLHUP | POLLERR) && !c->read_eof && !c->host_closed && c->unacked < CONN_WINDOW) relay_conn(c);
    }
    for (int i = 2; i < first_socket; i++) {
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

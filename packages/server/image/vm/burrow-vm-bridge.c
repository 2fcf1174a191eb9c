/*
 * burrow-vm-bridge: the guest end of the channel between the daemon and a `vm` sandbox.
 *
 * A microVM shares no file descriptors with the host, so the daemon cannot hand a command its
 * stdio the way it does for containers. This program holds one virtio-serial port (or vsock
 * stream) and multiplexes commands over it with small frames:
 *
 *   frame  = type (u8) | command id (u32 LE) | payload length (u32 LE) | payload
 *   host -> guest: EXEC (argv, NUL-separated) | STDIN (bytes) | STDIN_EOF
 *   guest -> host: READY (once, when the guest is up) | STDOUT | STDERR |
 *                  EXIT (i32 LE: exit code, or 128 + signal) | ERROR (text)
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
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

enum { EXEC = 1, STDIN_DATA = 2, STDIN_EOF = 3, READY = 10, STDOUT_DATA = 11, STDERR_DATA = 12, EXIT = 13, ERROR = 14 };
#define MAX_COMMANDS 64
#define MAX_PAYLOAD (1 << 20)

struct command {
  uint32_t id;
  pid_t pid;
  int in, out, err; /* -1 once closed */
  int status;
  int reaped;
};

static struct command commands[MAX_COMMANDS];
static int port = -1;

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

static void send_error(uint32_t id, const char *what) {
  char text[256];
  snprintf(text, sizeof text, "%s: %s", what, strerror(errno));
  send_frame(ERROR, id, text, (uint32_t)strlen(text));
}

static struct command *find(uint32_t id) {
  for (int i = 0; i < MAX_COMMANDS; i++)
    if (commands[i].pid && commands[i].id == id) return &commands[i];
  return NULL;
}

static void start(uint32_t id, char *payload, uint32_t len) {
  struct command *slot = NULL;
  for (int i = 0; i < MAX_COMMANDS && !slot; i++)
    if (!commands[i].pid) slot = &commands[i];
  if (!slot || find(id) || len == 0 || payload[len - 1] != '\0') {
    errno = slot ? EINVAL : EAGAIN;
    send_error(id, "exec");
    return;
  }
  char *argv[256];
  int argc = 0;
  for (char *p = payload; p < payload + len && argc < 255; p += strlen(p) + 1) argv[argc++] = p;
  argv[argc] = NULL;
  int in[2], out[2], err[2];
  if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC)) {
    send_error(id, "pipe");
    return;
  }
  pid_t pid = fork();
  if (pid < 0) {
    send_error(id, "fork");
    return;
  }
  if (pid == 0) {
    setsid();
    dup2(in[0], 0);
    dup2(out[1], 1);
    dup2(err[1], 2);
    signal(SIGPIPE, SIG_DFL);
    char *envp[] = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root", "TERM=xterm", NULL};
    chdir("/");
    execvpe(argv[0], argv, envp);
    dprintf(2, "burrow-vm-bridge: %s: %s\n", argv[0], strerror(errno));
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  close(err[1]);
  *slot = (struct command){.id = id, .pid = pid, .in = in[1], .out = out[0], .err = err[0]};
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
  if (!payload || read_full(payload, len)) return -1;
  struct command *c = find(id);
  switch (head[0]) {
  case EXEC:
    start(id, payload, len);
    break;
  case STDIN_DATA:
    if (c && c->in >= 0 && write(c->in, payload, len) < 0) {
      close(c->in);
      c->in = -1;
    }
    break;
  case STDIN_EOF:
    if (c && c->in >= 0) {
      close(c->in);
      c->in = -1;
    }
    break;
  }
  free(payload);
  return 0;
}

static void drain(struct command *c, int *fd, uint8_t type) {
  char buf[65536];
  ssize_t n = read(*fd, buf, sizeof buf);
  if (n > 0) {
    send_frame(type, c->id, buf, (uint32_t)n);
    return;
  }
  if (n < 0 && errno == EINTR) return;
  close(*fd);
  *fd = -1;
}

static void finish_done(void) {
  for (int i = 0; i < MAX_COMMANDS; i++) {
    struct command *c = &commands[i];
    if (!c->pid) continue;
    if (!c->reaped) {
      int status;
      if (waitpid(c->pid, &status, WNOHANG) == c->pid) {
        c->reaped = 1;
        c->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
    }
    /* EXIT goes last, after every byte of output the command wrote. */
    if (c->reaped && c->out < 0 && c->err < 0) {
      int32_t code = c->status;
      send_frame(EXIT, c->id, &code, 4);
      if (c->in >= 0) close(c->in);
      memset(c, 0, sizeof *c);
    }
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
  send_frame(READY, 0, NULL, 0);
  for (;;) {
    struct pollfd fds[1 + 2 * MAX_COMMANDS];
    struct { struct command *c; int *fd; uint8_t type; } owner[1 + 2 * MAX_COMMANDS];
    int n = 0;
    fds[n++] = (struct pollfd){.fd = port, .events = POLLIN};
    for (int i = 0; i < MAX_COMMANDS; i++) {
      struct command *c = &commands[i];
      if (!c->pid) continue;
      if (c->out >= 0) owner[n].c = c, owner[n].fd = &c->out, owner[n].type = STDOUT_DATA, fds[n++] = (struct pollfd){.fd = c->out, .events = POLLIN};
      if (c->err >= 0) owner[n].c = c, owner[n].fd = &c->err, owner[n].type = STDERR_DATA, fds[n++] = (struct pollfd){.fd = c->err, .events = POLLIN};
    }
    /* A short timeout: children are reaped by polling rather than by a SIGCHLD handler. */
    if (poll(fds, (nfds_t)n, 100) < 0 && errno != EINTR) return 1;
    if (fds[0].revents & (POLLIN | POLLHUP)) {
      if (serve_frame()) {
        if (fds[0].revents & POLLHUP) usleep(100000); /* no host connected yet */
        else return 1;
      }
    }
    for (int i = 1; i < n; i++)
      if (fds[i].revents) drain(owner[i].c, owner[i].fd, owner[i].type);
    finish_done();
  }
}

"""Runs a command on a real terminal for a test: `in-pty.py ROWS COLS CMD [ARG...]`.

The command gets a fresh pseudo-terminal of ROWS x COLS as its stdin, stdout and stderr; what
it writes comes out on our stdout, and our stdin (a pipe from the test) is typed into it, so
raw-mode keys such as Ctrl+\\ reach it as they would from a keyboard. Exits with its status.
"""
import fcntl
import os
import pty
import select
import struct
import sys
import termios

rows, cols, argv = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
pid, master = pty.fork()
if pid == 0:
    # The size is set before the program starts, so that it reads the right one at once.
    fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack('HHHH', rows, cols, 0, 0))
    os.execvp(argv[0], argv)

inputs = [master, 0]
while master in inputs:
    ready, _, _ = select.select(inputs, [], [])
    if master in ready:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the terminal's last writer is gone
            data = b''
        if not data:
            inputs.remove(master)
        else:
            os.write(1, data)
    if 0 in ready:
        data = os.read(0, 65536)
        if data:
            os.write(master, data)
        else:
            inputs.remove(0)
_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status))

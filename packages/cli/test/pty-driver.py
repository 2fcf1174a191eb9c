"""Runs a command on a real pseudo-terminal and types a script into it, for the CLI's terminal
tests (Node cannot open a pty without a native module).

Usage: pty-driver.py ROWS COLS STEPS_JSON -- COMMAND...
STEPS_JSON is a list of steps, each one of:
  {"wait": "text"}        wait until the terminal has shown this text (10 s at most, or
                          "within" seconds); full-screen programs that move the cursor
                          between words match too: escape sequences count as one space
                          each, runs of spaces as one
  {"type": "bytes"}       type these characters (\\u001c is Ctrl+\\)
  {"resize": [rows, cols]} resize the terminal, which sends SIGWINCH to the program
Prints one JSON object: the exit code, everything the terminal showed, whether the terminal
was back in canonical mode with echo on (the program restored it) at the end, and how many
seconds after the start each wait step was met ("met", null for one that was not).
"""
import fcntl
import json
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time


def words(shown):
    return re.sub(rb'[ \t]+', b' ', re.sub(rb'\x1b\[[0-9;?]*[A-Za-z]', b' ', shown))


def main():
    rows, cols, steps = int(sys.argv[1]), int(sys.argv[2]), json.loads(sys.argv[3])
    command = sys.argv[sys.argv.index('--') + 1:]
    master, slave = pty.openpty()
    fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack('HHHH', rows, cols, 0, 0))
    child = subprocess.Popen(
        command, stdin=slave, stdout=slave, stderr=slave, start_new_session=True,
        # The terminal becomes the child's controlling terminal, so resizes signal it.
        preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0),
    )
    shown = b''

    def read(timeout):
        nonlocal shown
        ready, _, _ = select.select([master], [], [], timeout)
        if ready:
            try:
                shown += os.read(master, 65536)
            except OSError:
                pass

    started = time.time()
    met = []

    def seen(text):
        return text in shown or text in words(shown)

    for step in steps:
        if 'wait' in step:
            text = step['wait'].encode()
            deadline = time.time() + step.get('within', 10)
            while not seen(text) and time.time() < deadline:
                read(0.05)
            met.append(round(time.time() - started, 3) if seen(text) else None)
            if not seen(text):
                break
        elif 'type' in step:
            os.write(master, step['type'].encode())
        elif 'resize' in step:
            fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack('HHHH', step['resize'][0], step['resize'][1], 0, 0))
    deadline = time.time() + 10
    while child.poll() is None and time.time() < deadline:
        read(0.05)
    read(0.1)
    lflag = termios.tcgetattr(slave)[3]
    if child.poll() is None:
        child.kill()
    print(json.dumps({
        'code': child.wait(),
        'shown': shown.decode('utf-8', 'replace'),
        'restored': bool(lflag & termios.ICANON) and bool(lflag & termios.ECHO),
        'met': met,
    }))


main()

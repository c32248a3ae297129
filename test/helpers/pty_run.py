"""Runs a command inside a pseudo-terminal and types into it (used by server-process.ts runInPty).

argv[1] is JSON: {"cmd": [...], "steps": [{"waitFor": "text", "send": "keys"}], "timeout": seconds}.
The pty is 100x24 and is the child's controlling terminal, as in a real terminal window, so
Ctrl-C (\\x03) behaves as it does for a person. Prints JSON {code, completed, output}; code is
null when the command was killed at the time limit.
"""
import fcntl
import json
import os
import pty
import select
import signal
import struct
import subprocess
import sys
import termios
import time

spec = json.loads(sys.argv[1])
steps = list(spec["steps"])
deadline = time.time() + float(spec["timeout"])

master, slave = pty.openpty()
fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))


def make_controlling_terminal():
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


child = subprocess.Popen(
    spec["cmd"], stdin=slave, stdout=slave, stderr=slave, preexec_fn=make_controlling_terminal, close_fds=True
)
os.close(slave)

output = b""
searched_from = 0
code = None
while True:
    if time.time() > deadline:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()
        break
    readable, _, _ = select.select([master], [], [], 0.05)
    if readable:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            data = b""
        output += data
        if not data and child.poll() is not None:
            code = child.returncode
            break
    elif child.poll() is not None:
        code = child.returncode
        break
    if steps and steps[0]["waitFor"].encode() in output[searched_from:]:
        searched_from = len(output)
        time.sleep(0.15)  # let the prompt finish drawing and switch the terminal to raw mode
        os.write(master, steps.pop(0)["send"].encode())

sys.stdout.write(json.dumps({"code": code, "completed": not steps, "output": output.decode("utf-8", "replace")}))

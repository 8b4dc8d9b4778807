# A connection plugin for the CI fleet stage only: runs Ansible's commands in
# a local systemd-nspawn container by entering the namespaces of its init
# with nsenter (containers booted with --register=no have no machined to go
# through, and need no ssh). Files go through the same way, as a stream.
from __future__ import annotations

import shlex
import subprocess

from ansible.errors import AnsibleConnectionFailure, AnsibleError
from ansible.plugins.connection import ConnectionBase

DOCUMENTATION = """
name: muse_nsenter
short_description: Run commands in a local container through nsenter (CI only)
description:
  - Enters every namespace of the container's init, whose host PID is read from a file.
author: Muse
options:
  pid_file:
    description: File holding the host PID of the container's init.
    vars:
      - name: muse_nsenter_pid_file
    required: true
"""

PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class Connection(ConnectionBase):
    transport = "muse_nsenter"
    has_pipelining = True

    def _connect(self):
        self._connected = True
        return self

    def _enter(self):
        with open(self.get_option("pid_file")) as f:
            pid = f.read().strip()
        if not pid.isdigit():
            raise AnsibleConnectionFailure(f"no container init PID in {self.get_option('pid_file')}")
        return ["nsenter", "-t", pid, "-a", "env", "-i", f"PATH={PATH}", "LANG=C.UTF-8", "HOME=/root"]

    def exec_command(self, cmd, in_data=None, sudoable=True):
        super().exec_command(cmd, in_data=in_data, sudoable=sudoable)
        self._display.vvv(f"NSENTER EXEC {cmd}", host=self._play_context.remote_addr)
        process = subprocess.Popen(self._enter() + ["/bin/sh", "-c", cmd], stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        stdout, stderr = process.communicate(in_data)
        return process.returncode, stdout, stderr

    def put_file(self, in_path, out_path):
        super().put_file(in_path, out_path)
        with open(in_path, "rb") as source:
            done = subprocess.run(self._enter() + ["/bin/sh", "-c", "cat > " + shlex.quote(out_path)],
                                  stdin=source, capture_output=True)
        if done.returncode != 0:
            raise AnsibleError(f"put {in_path} to {out_path}: {done.stderr.decode(errors='replace')}")

    def fetch_file(self, in_path, out_path):
        super().fetch_file(in_path, out_path)
        with open(out_path, "wb") as target:
            done = subprocess.run(self._enter() + ["cat", in_path], stdout=target, stderr=subprocess.PIPE)
        if done.returncode != 0:
            raise AnsibleError(f"fetch {in_path}: {done.stderr.decode(errors='replace')}")

    def close(self):
        self._connected = False

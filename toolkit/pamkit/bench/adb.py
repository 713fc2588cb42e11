"""The ``adb`` command, as the Android target uses it: find the device, push files, run shell commands."""

from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path

from ..errors import PamkitError

DEVICE_DIR = "/data/local/tmp/pamkit"


def parse_devices(text: str) -> list[str]:
    """Serials of the devices ``adb devices`` lists as ready (state ``device``), skipping unauthorized/offline."""
    serials = []
    for line in text.splitlines()[1:]:
        parts = line.split()
        if len(parts) >= 2 and parts[1] == "device":
            serials.append(parts[0])
    return serials


class Adb:
    """One attached Android device, reached through the real ``adb`` binary."""

    def __init__(self, serial: str | None = None, adb: str = "adb") -> None:
        found = shutil.which(adb)
        if found is None:
            raise PamkitError(
                f"{adb!r} not found: install Android's platform tools (Debian: apt-get install adb) or put adb on PATH"
            )
        self.adb = found
        listed = self._run(["devices"], timeout=30)
        ready = parse_devices(listed)
        if serial is None:
            if not ready:
                raise PamkitError(
                    "no Android device attached (`adb devices` lists none ready): connect a phone with "
                    "USB debugging on and accept the prompt, or `adb connect HOST:PORT` for adb over "
                    "Wi-Fi (which also lets the fuel gauge measure energy)"
                )
            if len(ready) > 1:
                raise PamkitError(
                    f"several Android devices attached ({', '.join(ready)}); pick one with --target android:SERIAL"
                )
            serial = ready[0]
        elif serial not in ready:
            raise PamkitError(
                f"Android device {serial!r} is not attached and ready (adb devices: {', '.join(ready) or 'none'})"
            )
        self.serial = serial

    def shell(self, command: str, timeout: float = 60) -> str:
        """Run a shell command on the device; its stdout."""
        return self._run(["-s", self.serial, "shell", command], timeout)

    def push(self, local: Path, remote: str) -> str:
        """Copy a file to the device; the remote path."""
        self.shell(f"mkdir -p {shlex.quote(str(Path(remote).parent))}")
        self._run(["-s", self.serial, "push", str(local), remote], timeout=600)
        return remote

    def wrapper(self) -> list[str]:
        """Command prefix that runs a program on the device."""
        return [self.adb, "-s", self.serial, "shell"]

    def _run(self, args: list[str], timeout: float) -> str:
        try:
            done = subprocess.run([self.adb, *args], capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise PamkitError(f"adb {' '.join(args)} did not answer in {timeout:.0f} s; is the device awake?") from None
        if done.returncode != 0:
            raise PamkitError(f"adb {' '.join(args)} failed: {(done.stderr or done.stdout).strip()[:300]}")
        return done.stdout

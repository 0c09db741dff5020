"""Runs every ```sh example of README.md against a fresh local stack, in order, and fails when one
does: a command exits non-zero or an HTTP call answers 4xx/5xx (curl runs with --fail-with-body).

    python3 tests/readme/run_examples.py --bin target/debug/mostrador

Each example runs in its own `bash -euo pipefail`, in the stack's working directory (so
`.mostrador/demo.json` and `.mostrador/secrets.json` are where README says), with `localhost:3000`
pointed at the stack's port. Examples that need an AWS account, real provider credentials or a
long-running process are written as ```console blocks instead, and are not run here.
"""

import argparse
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRELUDE = r"""
set -euo pipefail
curl() { command curl --silent --show-error --fail-with-body --max-time 20 "$@"; echo; }
"""


def blocks(readme: str):
    """(line, code) of every ```sh block."""
    out = []
    lines = readme.splitlines()
    i = 0
    while i < len(lines):
        if lines[i].strip() == "```sh":
            start = i + 1
            j = start
            while j < len(lines) and lines[j].strip() != "```":
                j += 1
            out.append((start, "\n".join(lines[start:j])))
            i = j
        i += 1
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True)
    args = parser.parse_args()
    binary = Path(args.bin).resolve()
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    examples = blocks(readme)
    work = Path(tempfile.mkdtemp(prefix="mostrador-readme-"))
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", str(work)),
        "MOSTRADOR_ADDR": f"127.0.0.1:{port}",
        "MOSTRADOR_LOG": "warn",
        "MOSTRADOR_LOG_FORMAT": "text",
    }
    # README's `target/debug/mostrador …` commands (backup, check) are this binary, where `cargo run`
    # leaves it in a checkout.
    (work / "target" / "debug").mkdir(parents=True)
    (work / "target" / "debug" / "mostrador").symlink_to(binary)
    log = open(work / "stack.log", "w")
    stack = subprocess.Popen([str(binary)], cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT)
    failures = []
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except OSError:
                if stack.poll() is not None:
                    raise SystemExit(f"the stack exited: {(work / 'stack.log').read_text()[-4000:]}")
                time.sleep(0.2)
        # The demo is seeded at start: wait for its file.
        for _ in range(100):
            if (work / ".mostrador" / "demo.json").exists():
                break
            time.sleep(0.1)
        for line, code in examples:
            script = PRELUDE + re.sub(r"(localhost|127\.0\.0\.1):3000", f"127.0.0.1:{port}", code)
            result = subprocess.run(
                ["bash", "-c", script], cwd=work, env={**env, "PYTHONIOENCODING": "utf-8"},
                capture_output=True, text=True, timeout=120,
            )
            first = code.strip().splitlines()[0][:90] if code.strip() else ""
            if result.returncode == 0:
                print(f"ok   README.md:{line}  {first}")
            else:
                print(f"FAIL README.md:{line}  {first}")
                print("     " + (result.stdout + result.stderr).strip().replace("\n", "\n     ")[-3000:])
                failures.append(line)
    finally:
        stack.terminate()
        try:
            stack.wait(timeout=15)
        except subprocess.TimeoutExpired:
            stack.kill()
        log.close()
    print(f"# README examples: {len(examples) - len(failures)} of {len(examples)} ran cleanly")
    if failures:
        print((work / "stack.log").read_text()[-4000:], file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

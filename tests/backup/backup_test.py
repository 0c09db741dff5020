#!/usr/bin/env python3
"""Back up the local stack while customers write to it, restore the backup elsewhere, and account
for every message: what was acknowledged before the backup began is stored once and answered once
by the restored stack; what was answered before the backup is not answered again.

    python tests/backup/backup_test.py --bin target/debug/mostrador [--messages 600]

Also: the running stack takes its first scheduled backup by itself; a backup copied to S3 (moto, at
MOSTRADOR_TEST_AWS_ENDPOINT) restores from there; a backup with one byte changed is refused by
`verify` and `restore` and nothing is touched; a backup of another deployment is refused unless
`--replace-key`, which keeps the replaced key aside; `mostrador check` passes on the restored
directory and fails once a stored file is damaged. Exits 1 on any failure.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "crash"))
from crash_test import ADMIN_KEY, HOLA, Meta, Stack, delivery, read  # noqa: E402

PASSPHRASE = "respaldo de la farmacia 2026"


def run(binary: str, data: Path, *args: str, extra: dict | None = None) -> subprocess.CompletedProcess:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "MOSTRADOR_DATA_DIR": str(data),
        "MOSTRADOR_BACKUP_PASSPHRASE": PASSPHRASE,
        "MOSTRADOR_LOG": "warn",
        **{k: v for k, v in os.environ.items() if k.startswith("AWS_")},
        **(extra or {}),
    }
    return subprocess.run([binary, *args], env=env, capture_output=True, text=True, timeout=300)


def drained(stack: Stack) -> None:
    t0 = time.monotonic()
    while True:
        q = read(f"{stack.url}/v1/admin/queues", {"authorization": f"Bearer {ADMIN_KEY}"})["queues"]
        if sum(q[n]["visible"] + q[n]["in_flight"] for n in ("inbound", "outbound")) == 0:
            return
        if time.monotonic() - t0 > 120:
            raise SystemExit(f"backup: the queues did not drain: {q}")
        time.sleep(0.2)


def conversation(stack: Stack, auth: dict, wa: str) -> tuple[int, int]:
    msgs = read(f"{stack.url}/v1/conversations/{wa}/messages?limit=50", auth).get("messages", [])
    return (sum(1 for m in msgs if m.get("direction") == "in"),
            sum(1 for m in msgs if m.get("direction") == "out"))


def ensure_bucket(endpoint: str, bucket: str) -> None:
    req = urllib.request.Request(f"{endpoint}/{bucket}", method="PUT")
    with urllib.request.urlopen(req, timeout=30) as r:
        assert r.status == 200, r.status


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", required=True)
    ap.add_argument("--messages", type=int, default=1500)
    ap.add_argument("--connections", type=int, default=6)
    args = ap.parse_args()
    failures: list[str] = []

    def expect(ok: bool, what: str) -> None:
        print(f"backup: {'ok  ' if ok else 'FAIL'} {what}")
        if not ok:
            failures.append(what)

    work = Path(tempfile.mkdtemp(prefix="mostrador-backup-"))
    backups = work / "backups"
    endpoint = os.environ.get("MOSTRADOR_TEST_AWS_ENDPOINT")
    if not endpoint:
        raise SystemExit("backup: MOSTRADOR_TEST_AWS_ENDPOINT (moto) is required for the S3 copy")
    bucket = f"mostrador-backup-test-{int(time.time())}"
    ensure_bucket(endpoint, bucket)
    s3 = {"MOSTRADOR_BACKUP_S3_BUCKET": bucket, "MOSTRADOR_BACKUP_S3_PREFIX": "farmacia",
          "MOSTRADOR_BACKUP_S3_ENDPOINT": endpoint}

    # The stack backs itself up soon after its first start (no backup yet is a backup overdue).
    a = Stack(args.bin, work / "a")
    a.start()
    demo = json.loads((work / "a" / "demo.json").read_text())
    auth = {"authorization": f"Bearer {demo['api_key']}"}
    t0 = time.monotonic()
    scheduled = []
    while time.monotonic() - t0 < 30 and not scheduled:
        scheduled = [p for p in (work / "a" / "backups").glob("mostrador-*") if (p / "manifest.json").exists()]
        time.sleep(0.3)
    expect(len(scheduled) == 1, f"the stack took its first backup by itself ({len(scheduled)} found)")

    customers = [f"52157{i:08d}" for i in range(args.messages)]
    pending = list(range(args.messages))
    acknowledged: dict[int, float] = {}
    lock = threading.Lock()

    def greeter() -> None:
        meta = Meta(a)
        while True:
            with lock:
                if not pending:
                    return
                i = pending.pop(0)
            status = meta.post(delivery(customers[i], f"wamid.backup.{i}", HOLA))
            with lock:
                if status == 200:
                    acknowledged[i] = time.monotonic()
                else:
                    pending.append(i)

    threads = [threading.Thread(target=greeter) for _ in range(args.connections)]
    for t in threads:
        t.start()
    while True:
        with lock:
            if len(acknowledged) >= args.messages // 2:
                break
        time.sleep(0.01)
    began = time.monotonic()
    taken = run(args.bin, work / "a", "backup", "--to", str(backups), extra=s3)
    ended = time.monotonic()
    for t in threads:
        t.join()
    expect(taken.returncode == 0, f"`mostrador backup` under load: {taken.stdout.strip()} {taken.stderr.strip()[-400:]}")
    name = next((p.name for p in backups.glob("mostrador-*")), None)
    if name is None:
        print(f"backup: FAILED, no backup in {backups}", file=sys.stderr)
        return 1
    before = sorted(i for i, at in acknowledged.items() if at < began)
    after = sorted(i for i, at in acknowledged.items() if at > ended)
    drained(a)
    on_a = {i: conversation(a, auth, "52" + customers[i][3:]) for i in before}
    a.stop()

    # Restored into an empty directory: the key and secrets come out of keys.sealed.
    restored = run(args.bin, work / "b", "restore", str(backups / name))
    expect(restored.returncode == 0, f"restore into an empty directory: {restored.stdout.strip()} {restored.stderr.strip()}")
    b = Stack(args.bin, work / "b")
    b.start()
    drained(b)
    stored_once = answered_same = 0
    problems = []
    for i in before:
        wa = "52" + customers[i][3:]
        got = conversation(b, auth, wa)
        if got[0] == 1:
            stored_once += 1
        if got[1] == on_a[i][1] and got[1] >= 1:
            answered_same += 1
        if got[0] != 1 or got[1] != on_a[i][1] or got[1] < 1:
            problems.append((wa, got, on_a[i]))
    absent_after = sum(1 for i in after if conversation(b, auth, "52" + customers[i][3:])[0] == 0)
    print(f"backup: {len(acknowledged)} greetings acknowledged; {len(before)} before the backup began, "
          f"{len(after)} after it ended; backup took {ended - began:.1f} s under load")
    expect(not problems and before,
           f"every message acknowledged before the backup is stored once ({stored_once}/{len(before)}) and answered "
           f"as on the original ({answered_same}/{len(before)}); first problems {problems[:3]}")
    print(f"backup: {absent_after} of {len(after)} greetings that arrived after the backup are not in it (as expected)")
    checked = run(args.bin, work / "b", "check")
    b.stop()
    expect(checked.returncode == 0 and "OK: 0 errors" in checked.stdout, f"check of the restored directory: {checked.stdout.strip()[-600:]}")

    # From the S3 copy.
    remote = run(args.bin, work / "c", "restore", f"s3:{name}", extra=s3)
    expect(remote.returncode == 0, f"restore from the S3 copy: {remote.stdout.strip()} {remote.stderr.strip()}")
    same_db = (work / "c" / "mostrador.db").read_bytes() == (backups / name / "mostrador.db").read_bytes()
    expect(same_db, "the S3 copy restores the same database file")

    # One byte changed: refused, nothing touched.
    bad = work / "bad" / name
    shutil.copytree(backups / name, bad)
    db = bad / "mostrador.db"
    data = bytearray(db.read_bytes())
    data[len(data) // 2] ^= 0x5A
    db.write_bytes(bytes(data))
    verified = run(args.bin, work / "d", "verify", str(bad))
    expect(verified.returncode != 0 and "damaged" in verified.stderr, f"verify refuses a damaged backup: {verified.stderr.strip()}")
    refused = run(args.bin, work / "d", "restore", str(bad))
    expect(refused.returncode != 0 and not (work / "d" / "mostrador.db").exists(),
           f"restore refuses a damaged backup and writes nothing: {refused.stderr.strip()}")

    # Another deployment's directory: refused unless told; the replaced key is kept aside.
    (work / "e").mkdir()
    (work / "e" / "master.key").write_bytes(os.urandom(32))
    other = run(args.bin, work / "e", "restore", str(backups / name))
    expect(other.returncode != 0 and "another master key" in other.stderr, f"another deployment's key is refused: {other.stderr.strip()}")
    forced = run(args.bin, work / "e", "restore", "--replace-key", str(backups / name))
    aside = list((work / "e").glob("before-restore-*/master.key"))
    expect(forced.returncode == 0 and len(aside) == 1, f"--replace-key restores and keeps the old key aside: {forced.stdout.strip()} {forced.stderr.strip()}")

    # A restore while the stack runs is refused.
    c = Stack(args.bin, work / "c")
    c.start()
    busy = run(args.bin, work / "c", "restore", str(backups / name))
    c.stop()
    expect(busy.returncode != 0 and "in use by a running mostrador" in busy.stderr, f"restore while the stack runs is refused: {busy.stderr.strip()}")

    # A stopped stack leaves the whole database in its file: the log is emptied as it stops.
    wal = work / "c" / "mostrador.db-wal"
    expect(not wal.exists() or wal.stat().st_size == 0,
           f"a stopped stack leaves its log empty ({wal.stat().st_size if wal.exists() else 0} bytes)")

    # check notices a damaged database file.
    broken = work / "c" / "mostrador.db"
    data = bytearray(broken.read_bytes())
    for at in range(4096, min(len(data), 4096 * 4)):
        data[at] = 0
    broken.write_bytes(bytes(data))
    found = run(args.bin, work / "c", "check")
    expect(found.returncode != 0 and "PROBLEMS FOUND" in found.stdout, f"check fails on a damaged database: {(found.stdout + found.stderr).strip()[-400:]}")

    if failures:
        print(f"backup: FAILED ({len(failures)}); data in {work}", file=sys.stderr)
        return 1
    shutil.rmtree(work, ignore_errors=True)
    print("backup: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())

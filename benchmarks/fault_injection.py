"""Kill a real run at random moments, resume it, and check that nothing was lost.

    python benchmarks/fault_injection.py --data ../shared/datasets --trials 20
    python benchmarks/fault_injection.py --data ../shared/datasets --trials 3 --size small   # a minute

First an uninterrupted reference run. Then, per trial, the same command is started, killed with SIGKILL
at a random moment (uniform over the reference's duration), checked (every file under a final name must
be whole: JSON parses, .keras zips test clean, PNGs decode, .npy loads, CSV parses), then resumed with
`mnistlab run --resume` (itself killed again at a random moment in one trial out of three) until it
completes; the resumed run's artifacts are checked against the manifest's digests and its test metrics
compared with the reference's. Prints trials, resumed, artifacts verified, and metrics equal to the
reference.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

SIZES = {  # experiments and overrides per size; "full" is the lab's own settings
    "tiny": (["ex2.augment"], ["--set", "epochs=2", "--set", "train_limit=1000", "--set", "test_limit=200"]),
    "small": (["ex1", "ex2.augment"], ["--set", "epochs=3", "--set", "train_limit=2000", "--set", "test_limit=400"]),
    "medium": (["ex1", "ex2.activations", "ex2.augment"], ["--set", "train_limit=12000", "--set", "test_limit=2000"]),
    "full": ([], []),
}


def command(run_dir: Path, data: str, size: str) -> list[str]:
    names, overrides = SIZES[size]
    return [sys.executable, "-m", "mnistlab.cli", "run", *names, "--out", str(run_dir), "--data", data,
            *overrides]


def whole_files_problems(run_dir: Path) -> list[str]:
    """Files under a final name (not .name.tmp) that are not whole; [] when all are."""
    from PIL import Image

    problems = []
    for path in run_dir.rglob("*"):
        if not path.is_file() or path.name.startswith("."):
            continue
        try:
            if path.suffix == ".json":
                json.loads(path.read_text(encoding="utf-8"))
            elif path.suffix == ".keras":
                with zipfile.ZipFile(path) as z:
                    if z.testzip() is not None:
                        raise ValueError("bad member")
            elif path.suffix == ".png":
                with Image.open(path) as im:
                    im.load()
            elif path.suffix == ".npy":
                import numpy as np

                np.load(path, allow_pickle=False)
            elif path.suffix == ".csv":
                with open(path, newline="", encoding="utf-8") as f:
                    rows = list(csv.reader(f))
                if len(rows) < 2 or len({len(r) for r in rows}) != 1:
                    raise ValueError("ragged or empty")
        except Exception as e:  # noqa: BLE001 - any failure to read is the finding
            problems.append(f"{path.relative_to(run_dir)}: {type(e).__name__}: {e}")
    return problems


def metrics(run_dir: Path) -> dict[str, object]:
    out = {}
    for m in sorted(run_dir.glob("*/metrics.json")):
        data = json.loads(m.read_text(encoding="utf-8"))
        out[m.parent.name] = (data.get("test_accuracy"), data.get("test_loss"))
    return out


def digests_ok(run_dir: Path) -> bool:
    from mnistlab.fileio import sha256_file

    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    for name, entry in manifest["experiments"].items():
        for rel, sha in entry.get("artifacts", {}).items():
            if sha256_file(run_dir / name / rel) != sha:
                return False
    return manifest["status"] == "complete"


def run_killed_at(cmd: list[str], seconds: float, log) -> int:
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    try:
        return proc.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        return proc.wait()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True)
    p.add_argument("--trials", type=int, default=20)
    p.add_argument("--size", choices=sorted(SIZES), default="small")
    p.add_argument("--seed", type=int, default=0, help="seed of the kill moments")
    p.add_argument("--work", help="folder for runs and logs (default: a new temporary folder)")
    args = p.parse_args(argv)
    rng = random.Random(args.seed)
    work = Path(args.work or tempfile.mkdtemp(prefix="mnistlab-faults-"))
    work.mkdir(parents=True, exist_ok=True)
    data = str(Path(args.data).resolve())

    ref = work / "reference"
    t0 = time.perf_counter()
    with open(work / "reference.log", "w") as log:
        subprocess.run(command(ref, data, args.size), stdout=log, stderr=subprocess.STDOUT, check=True)
    duration = time.perf_counter() - t0
    reference = metrics(ref)
    print(f"reference run: {duration:.1f} s, {len(reference)} experiments", flush=True)

    tally = {"trials": 0, "killed": 0, "resumed": 0, "whole_after_kill": 0, "artifacts_verified": 0,
             "metrics_equal": 0}
    for trial in range(args.trials):
        run_dir = work / f"trial-{trial:02d}"
        kill_at = rng.uniform(0.5, duration)
        with open(work / f"trial-{trial:02d}.log", "w") as log:
            rc = run_killed_at(command(run_dir, data, args.size), kill_at, log)
            tally["trials"] += 1
            killed = rc == -signal.SIGKILL
            tally["killed"] += killed
            problems = whole_files_problems(run_dir) if run_dir.exists() else []
            tally["whole_after_kill"] += not problems
            resume = [sys.executable, "-m", "mnistlab.cli", "run", "--resume", str(run_dir)]
            if killed and (run_dir / "manifest.json").is_file():
                if trial % 3 == 2:  # kill the resume too, once in three trials
                    run_killed_at(resume, rng.uniform(0.5, duration / 2), log)
                rc = subprocess.run(resume, stdout=log, stderr=subprocess.STDOUT).returncode
                tally["resumed"] += 1
            elif killed:  # killed before the manifest existed: start again, as a user would
                rc = subprocess.run(command(run_dir, data, args.size), stdout=log, stderr=subprocess.STDOUT).returncode
        verified = rc == 0 and digests_ok(run_dir) and not whole_files_problems(run_dir)
        tally["artifacts_verified"] += verified
        same = metrics(run_dir) == reference
        tally["metrics_equal"] += same
        print(f"trial {trial:2d}: killed at {kill_at:5.1f} s ({'killed' if killed else 'had finished'}); "
              f"files whole after kill: {'yes' if not problems else problems[0]}; "
              f"then exit code {rc}, artifacts verified {verified}, metrics equal to reference {same}", flush=True)
    print("\n" + "  ".join(f"{k}: {v}" for k, v in tally.items()))
    ok = tally["whole_after_kill"] == tally["artifacts_verified"] == tally["metrics_equal"] == tally["trials"]
    print("all trials recovered exactly" if ok else "SOME TRIALS FAILED", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

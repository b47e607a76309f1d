"""A benchmark set of another albedo kind that reuses the references of an existing one.

    python reuse_references.py SRC DST [--albedo directional] [--again]

References carry no albedo (the farm renders aux buffers for noisy frames only), so the
8,192-spp references of SRC serve as they are: DST gets SRC's settings with the new albedo
kind, SRC's reference files and their manifest records (passes included, so that the farm sees
them finished), and then its noisy pairs rendered through the farm with that albedo (same
seeds as SRC's: the same colour noise). Re-running it renders only what is missing; with
--again it first deletes DST's noisy pairs (after a change of what the albedo kind renders).
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("src", type=Path)
    parser.add_argument("dst", type=Path)
    parser.add_argument("--albedo", default="directional")
    parser.add_argument("--again", action="store_true", help="render DST's noisy pairs again")
    args = parser.parse_args()
    settings = json.loads((args.src / "dataset.json").read_text())
    records = [json.loads(line) for line in (args.src / "manifest.jsonl").read_text().splitlines()
               if line.strip()]
    kept = [r for r in records if r["kind"] in ("reference", "pass") and r.get("status") == "done"]
    scenes = sorted({r["scene"] for r in kept if r["kind"] == "reference"})
    if args.again and (args.dst / "manifest.jsonl").exists():
        held = [json.loads(line) for line in
                (args.dst / "manifest.jsonl").read_text().splitlines() if line.strip()]
        for record in held:
            if record["kind"] == "noisy":
                (args.dst / record["path"]).unlink(missing_ok=True)
        (args.dst / "manifest.jsonl").write_text("".join(
            json.dumps(r, sort_keys=True) + "\n" for r in held if r["kind"] != "noisy"))
    if not (args.dst / "dataset.json").exists():
        args.dst.mkdir(parents=True, exist_ok=True)
        for record in kept:
            if record["kind"] == "reference":
                target = args.dst / record["path"]
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(args.src / record["path"], target)
        (args.dst / "manifest.jsonl").write_text("".join(json.dumps(r, sort_keys=True) + "\n"
                                                         for r in kept))
        (args.dst / "dataset.json").write_text(
            json.dumps(dict(settings, albedo=args.albedo), indent=2) + "\n")
    command = [str(Path(sys.executable).with_name("mcdenoise")), "dataset", "-o", str(args.dst),
               "--scenes", ",".join(scenes), "--spp", str(settings["spp"]),
               "--seed", str(settings["seed"]), "--albedo", args.albedo, "--num-cpus", "1"]
    for key in ("width", "height", "max_depth"):
        if settings.get(key) is not None:
            command += [f"--{key.replace('_', '-')}", str(settings[key])]
    return subprocess.call(command)


if __name__ == "__main__":
    sys.exit(main())

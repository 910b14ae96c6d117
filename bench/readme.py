"""Run every command of the README as written, in a fresh clone, and time each (not a test).

    python bench/readme.py                 # clone this checkout's HEAD into a temp folder
    python bench/readme.py --keep          # and keep the clone (its .venv and storage) afterwards

This is how the README's figures are measured: the install (a fresh venv), the demo ingest of
the repository itself, the demo question (its first source is printed), the tour (run on the
clone, the project a reader has at hand) and the docs site. Lines are run one by one with bash
in the clone, its `.venv` activated once it exists; `cd` and `export` lines carry over; a line
that starts a server (`… serve`) is started, probed until it answers on 127.0.0.1:8000, then
stopped. The test command is CI's own (`.ci/run`) and is skipped here: the whole suite is not
run on a shared machine by a benchmark.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from markdown_it import MarkdownIt

ROOT = Path(__file__).resolve().parents[1]
PLACEHOLDER = "path/to/your/project"


def commands(readme: Path) -> list[str]:
    """The lines of the README's shell blocks, comments and blank lines left out."""
    lines: list[str] = []
    for token in MarkdownIt().parse(readme.read_text(encoding="utf-8")):
        if token.type == "fence" and token.info.strip() in ("bash", "sh", "shell"):
            lines += [line for line in token.content.splitlines()
                      if line.strip() and not line.startswith("#")]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="keep the clone")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="ragqa-readme-"))
    clone = folder / "ragqa"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    env = {key: value for key, value in os.environ.items()
           if not key.startswith("RAGQA_") and key != "VIRTUAL_ENV"}
    cwd = clone
    print("| seconds | exit | command |\n|---|---|---|")
    try:
        for line in commands(clone / "README.md"):
            line = line.replace(PLACEHOLDER, str(clone))
            if line.startswith("cd "):
                cwd = (cwd / shlex.split(line)[1]).resolve()
                continue
            if line.startswith("export "):
                env.update(item.split("=", 1) for item in shlex.split(line, comments=True)[1:])
                continue
            if "pytest" in line:
                print(f"| – | – | `{line}` (skipped: CI runs it) |")
                continue
            started = time.perf_counter()
            code = serve(line, cwd, env, clone) if " serve" in line else run(line, cwd, env, clone)
            print(f"| {time.perf_counter() - started:.1f} | {code} | `{line.split('  #')[0].strip()}` |",
                  flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
        else:
            print(f"kept {clone}")


def _bash(line: str, clone: Path) -> list[str]:
    activate = clone / ".venv" / "bin" / "activate"
    return ["bash", "-c", f"set -o pipefail; [ -f {activate} ] && . {activate}; {line}"]


def run(line: str, cwd: Path, env: dict[str, str], clone: Path) -> int:
    if "ragqa ask" in line and "--json" not in line:  # say what the answer was built from
        line = line.split("  #")[0] + " --json"
        done = subprocess.run(_bash(line, clone), cwd=cwd, env=env, capture_output=True, text=True,
                              check=False)
        if done.returncode == 0:
            answer = json.loads(done.stdout.splitlines()[-1])
            print(f"|  |  | answered: {answer['answered']}, sources: "
                  f"{', '.join(source['path'] for source in answer['sources'][:3])} |")
        return done.returncode
    return subprocess.run(_bash(line, clone), cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                          stderr=sys.stderr, check=False).returncode


def serve(line: str, cwd: Path, env: dict[str, str], clone: Path, timeout: float = 900) -> int:
    """Start a server line, wait until 127.0.0.1:8000 answers, stop it: 0 when it answered."""
    process = subprocess.Popen(_bash(f"exec {line}" if "&&" not in line else line, clone), cwd=cwd, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if httpx.get("http://127.0.0.1:8000/", timeout=2).status_code < 500:
                    return 0
            except httpx.HTTPError:
                time.sleep(1)
        return process.returncode or 1
    finally:
        os.killpg(process.pid, 15)
        process.wait(timeout=30)


if __name__ == "__main__":
    main()

"""Run the README's main command as a new user would: a fresh clone of the committed code, a fresh virtual
environment, exactly the README's install (no extras), then the command itself.

    python scripts/readme_install.py --short     # CI: the demo at tiny settings, to its report (minutes)
    python scripts/readme_install.py             # the full demo, as the README states it

The command is read from the README (the first line of its first code block), so the check follows the
README. With ``--short`` the demo gets options that make it finish in seconds; nothing else changes.
Prints the command's output and exits with its status; fails when the report is missing or when the
environment holds a package that only an extra brings (pytest), i.e. when it was not a plain install.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHORT_DEMO = ["--subjects", "36", "--matrix", "32", "--epochs", "1", "--cube-size", "16"]
"""Options that make ``attrivae demo`` a seconds-long run through every stage, report included."""


def readme_commands(readme: Path = ROOT / "README.md") -> list[str]:
    """The lines of the README's ``bash`` code blocks, in order."""
    blocks = re.findall(r"^```bash\n(.*?)^```", readme.read_text(), re.S | re.M)
    return [line.strip() for block in blocks for line in block.splitlines() if line.strip()]


def readme_main_command(readme: Path = ROOT / "README.md") -> str:
    """The first line of the README's first code block: ``pip install ... && attrivae demo``."""
    return readme_commands(readme)[0]


def readme_test_command(readme: Path = ROOT / "README.md") -> str:
    """The README's test command, the first ``bash`` line that runs pytest (its second code block;
    CONTRIBUTING.md): ``pip install ... && python -m pytest Testing -q``."""
    return next(line for line in readme_commands(readme) if "pytest" in line)


def fresh_environment(work: Path) -> tuple[Path, dict[str, str]]:
    """A new clone of HEAD in ``work/clone`` and a new virtual environment in ``work/venv`` (``work`` must
    not hold them yet); returns the clone and the environment variables that put the venv first."""
    clone, venv = work / "clone", work / "venv"
    if clone.exists() or venv.exists():
        raise SystemExit(f"{work} already holds a clone or a virtual environment; give a new folder")
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    environment = {**os.environ, "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}", "VIRTUAL_ENV": str(venv),
                   "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    environment.pop("PYTHONPATH", None)
    return clone, environment


def run_and_echo(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> tuple[str, float]:
    """Run ``command`` (its standard error passes through), echo it and its standard output; return the
    output and the wall seconds. Stops the script, naming the command, when it fails."""
    print(f"$ {' '.join(command)}    (in {cwd})", flush=True)
    started = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, env=env, stdout=subprocess.PIPE, text=True)
    print(result.stdout, end="", flush=True)
    if result.returncode:
        raise SystemExit(f"failed with status {result.returncode}: {' '.join(command)}")
    return result.stdout, time.perf_counter() - started


def run_as_new_user(work: Path, demo_options: list[str]) -> tuple[Path, str, dict[str, float]]:
    """Clone HEAD into ``work/clone``, make ``work/venv``, run the README's main command there (the demo
    with ``demo_options`` appended). Returns the demo folder, the demo's standard output and the wall
    seconds of the install and of the demo; raises SystemExit when the command fails."""
    clone, environment = fresh_environment(work)
    command = readme_main_command(clone / "README.md")
    install, separator, demo_command = command.rpartition("&&")
    if not (separator and demo_command.strip() == "attrivae demo"):
        raise SystemExit(f"the README's main command no longer ends in '&& attrivae demo': {command}")
    seconds: dict[str, float] = {}
    _, seconds["install"] = run_and_echo(["bash", "-c", install.strip()], clone, environment)
    output, seconds["demo"] = run_and_echo(["attrivae", "demo", *demo_options], clone, environment)
    installed = subprocess.run([str(work / "venv" / "bin" / "python"), "-m", "pip", "list", "--format", "freeze"],
                               stdout=subprocess.PIPE, text=True, check=True).stdout.lower()
    if "pytest==" in installed:
        raise SystemExit("the virtual environment holds pytest: the README's install was not a plain one")
    demo = clone / "attrivae-demo"
    if not (demo / "report" / "report.html").is_file():
        raise SystemExit(f"the demo wrote no report into {demo / 'report'}")
    return demo, output, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--short", action="store_true", help="the demo at tiny settings (seconds, not minutes)")
    parser.add_argument("--keep", type=Path, help="work in this new folder and keep it (default: a temporary one)")
    args = parser.parse_args()
    options = SHORT_DEMO if args.short else []
    if args.keep:
        args.keep.mkdir(parents=True)
        demo, _, seconds = run_as_new_user(args.keep, options)
    else:
        with tempfile.TemporaryDirectory(prefix="attrivae-readme-") as work:
            demo, _, seconds = run_as_new_user(Path(work), options)
    print(f"README main command: OK (install {seconds['install']:.0f} s, demo {seconds['demo']:.0f} s); "
          f"report {demo / 'report' / 'report.html'}")


if __name__ == "__main__":
    main()

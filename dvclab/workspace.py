"""``dvclab init DIR``: a workspace of editable copies of the shipped data, and a README saying how to use it.

The copies keep the shipped layout (``catalog/``, ``sim/``, ``load/``, ``thresholds.yaml``), so every
relative reference in them stays valid: a scenario's ``catalog: ../catalog/…`` and ``extends: …``, a load
profile's ``thresholds: …`` (each relative to the file that names it). Only data is copied: the catalog's
generator script and the package's Python files stay in the installed package.

Standard library only: ``dvclab --help`` builds this parser.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dvclab.files import atomic_write, fill_folder
from dvclab.paths import shipped

EXIT_OK, EXIT_BAD_INPUT = 0, 2
DATA_SUFFIXES = (".yaml", ".yml", ".csv", ".md")

README = """\
# dvclab workspace

Your own copies of the data dvclab ships, to edit. Run every command from this folder: results go to
`./results/`, and the paths below are relative to it.

| edit | what it is |
|---|---|
| `catalog/nam-dinh-2024.csv` | the procedure catalog (columns: `catalog/README.md`) |
| `sim/*.yaml` | what-if scenarios: each `extends:` the baseline `nam-dinh-2024.yaml`, naming what changes |
| `load/*.yaml` | load profiles (shape, mix, security checks); `*-thresholds.yaml`: a profile's own rules |
| `thresholds.yaml` | the rules of `dvclab check`: load, security, simulation KPIs, benchmarks |
| `load/maps/reference.yaml` | the reference portal's map: steps, captures, sign-in; copy it for yours |
| `records/one-stop-register.yaml` | the column map of a one-stop register export (`records/README.md`) |

Relative paths inside these files are relative to the file that names them (a scenario's
`catalog: ../catalog/nam-dinh-2024.csv`, a profile's `thresholds: spike-thresholds.yaml`); keep the layout
or adjust them.

## Commands

```
dvclab sim validate sim/nam-dinh-2024.yaml             # check a scenario without running it
dvclab sim run sim/nam-dinh-2024.yaml                  # replications -> results/sim/nam-dinh-2024/<run>/
dvclab sim compare sim/nam-dinh-2024.yaml sim/land-office-plus-2.yaml
dvclab load run load/smoke.yaml                        # against the embedded portal -> results/load/<run>/
dvclab load run load/smoke.yaml --from-sim results/sim/nam-dinh-2024/<run>
dvclab portal serve --demo-data --catalog catalog/nam-dinh-2024.csv
dvclab check results/load/<run> --thresholds thresholds.yaml      # exit 0 pass, 1 fail, 2 bad input
dvclab check results/sim/nam-dinh-2024/<run> --thresholds thresholds.yaml
dvclab load map check load/maps/reference.yaml --host http://127.0.0.1:8000   # one pass over its steps
dvclab sim calibrate register.csv --map records/one-stop-register.yaml --out sim/my-province.yaml
```

Pass the workspace's files by path: a bare profile name (`dvclab load run smoke`) and `dvclab check`
without `--thresholds` use the copies shipped inside the package, not these.
"""


class WorkspaceError(Exception):
    """The folder cannot become a workspace; the message names why."""


def shipped_files() -> list[Path]:
    """The shipped data files, relative to the shipped root, in a stable order."""
    root = shipped()
    return sorted(
        path.relative_to(root)
        for path in root.rglob("*")
        if path.is_file() and path.suffix in DATA_SUFFIXES and "__pycache__" not in path.parts
    )


def create(folder: Path, force: bool = False) -> list[Path]:
    """Write the workspace into ``folder``; return the files written, relative to it.

    A new folder appears whole or not at all. An existing one must be empty unless ``force``, which
    overwrites the files of the same names and leaves every other file alone.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise WorkspaceError(f"{folder} exists and is not a folder")
    if folder.is_dir() and any(folder.iterdir()) and not force:
        raise WorkspaceError(
            f"{folder} is not empty; choose a new folder, or pass --force to overwrite the workspace's "
            "files in it (other files are left alone)"
        )
    root = shipped()
    contents = {relative: (root / relative).read_bytes() for relative in shipped_files()}
    contents[Path("README.md")] = README.encode("utf-8")

    def fill(target: Path) -> None:
        for relative, data in contents.items():
            atomic_write(target / relative, data)

    if folder.is_dir():
        fill(folder)  # an existing folder (perhaps the current one) is kept, not replaced
    else:
        fill_folder(folder, fill)
    return sorted(contents)


def init_command(args: argparse.Namespace) -> int:
    try:
        written = create(args.folder, force=args.force)
    except (WorkspaceError, OSError) as error:
        message = error if isinstance(error, WorkspaceError) else f"cannot write {args.folder}: {error}"
        print(f"dvclab init: {message}", file=sys.stderr)
        return EXIT_BAD_INPUT
    for relative in written:
        print(args.folder / relative)
    readme = args.folder / "README.md"
    print(f"dvclab init: {len(written)} files in {args.folder}; start with {readme}", file=sys.stderr)
    return EXIT_OK


def register(commands: argparse._SubParsersAction) -> None:
    init = commands.add_parser(
        "init",
        help="create a workspace: editable copies of the shipped scenarios, profiles, catalog and thresholds",
        description="Copy the shipped procedure catalog, simulation scenarios, load profiles and "
        "thresholds into DIR (created if missing), with a README.md on what to edit and which commands "
        "to run from there. Exit 2 if DIR is not empty, unless --force.",
    )
    init.add_argument("folder", type=Path, metavar="DIR")
    init.add_argument(
        "--force",
        action="store_true",
        help="write into a non-empty DIR, overwriting files of the same names (others are left alone)",
    )
    init.set_defaults(handler=init_command)

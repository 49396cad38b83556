"""``ledgerlearn data``: list, fetch and describe the real data sets.

    ledgerlearn data list
    ledgerlearn data fetch imdb mnist      # or --all
    ledgerlearn data info titanic --format json

Downloads are verified against pinned sha256s and cached in ``--cache-dir``
(env ``LEDGERLEARN_DATASETS_DIR``; default: the user cache directory); see
:mod:`ledgerlearn.datasets`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Optional

import typer

from ledgerlearn.cli.common import FormatOpt, OutputFormat, cli_errors, info, print_json, print_kv, print_table
from ledgerlearn.datasets.download import CACHE_ENV

app = typer.Typer(
    name="data",
    help="Real data sets (IMDB, MNIST, Fashion-MNIST, Titanic, ...): list, fetch and verify, info.",
    no_args_is_help=True,
)

CacheDirOpt = Annotated[
    Optional[Path],
    typer.Option("--cache-dir", envvar=CACHE_ENV, show_envvar=True,
                 help="Where data sets are cached. [default: the user cache dir, e.g. ~/.cache/ledgerlearn/datasets]"),
]


def _size(n: int | None) -> str:
    if n is None:
        return "-"
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return str(n)  # pragma: no cover


def _cached(i) -> str:
    if i.url is None:
        return "bundled" if "scikit-learn" in i.source else "generated"
    return "yes" if i.cached else "no"


@app.command("list")
@cli_errors
def list_(fmt: FormatOpt = OutputFormat.table, cache_dir: CacheDirOpt = None) -> None:
    """Every data set: kind, source, download size, whether it is cached."""
    from ledgerlearn.datasets import list_datasets

    infos = list_datasets(cache_dir=cache_dir)
    if fmt == OutputFormat.json:
        print_json([i.to_dict() for i in infos])
        return
    print_table("Data sets", ["name", "kind", "source", "size", "train/test", "classes", "cached"],
                [[i.name, i.kind, i.source, _size(i.size), f"{i.n_train}/{i.n_test}", i.n_classes, _cached(i)]
                 for i in infos])


@app.command("fetch")
@cli_errors
def fetch_(
    names: Annotated[Optional[list[str]], typer.Argument(help="Data sets to fetch (see `ledgerlearn data list`).", show_default=False)] = None,
    all_: Annotated[bool, typer.Option("--all", help="Fetch every data set.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Download again even if a verified copy is cached.")] = False,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="Show download progress bars (stderr).")] = True,
    fmt: FormatOpt = OutputFormat.table,
    cache_dir: CacheDirOpt = None,
) -> None:
    """Download, verify and prepare data sets so that loading them needs no network."""
    from ledgerlearn.datasets import api, registry
    from ledgerlearn.errors import ValidationError

    if all_ and names:
        raise ValidationError("fetch: give data set names or --all, not both")
    if not all_ and not names:
        raise ValidationError(f"fetch: name a data set ({', '.join(registry.SPECS)}) or pass --all")
    specs = list(registry.SPECS.values()) if all_ else [registry.get(n) for n in names]  # all names checked first
    rows = []
    for spec in specs:
        t0 = time.perf_counter()
        path, downloaded = api._fetch(spec.name, cache_dir=cache_dir, progress=progress, force=force)
        t_fetch = time.perf_counter() - t0
        if spec.download is not None:
            info(f"{spec.name}: {'downloaded and verified' if downloaded else 'cached copy verified'}; preparing ...")
        t1 = time.perf_counter()
        ds = api.load(spec.name, cache_dir=cache_dir, progress=progress)  # builds the derived cache, checks the parser
        t_load = time.perf_counter() - t1
        status = ("downloaded" if downloaded else "cached") if spec.download else _cached(api.dataset_info(spec.name, cache_dir=cache_dir))
        rows.append({"name": spec.name, "status": status, "path": str(path) if path else None,
                     "size": spec.download.size if spec.download else None, "sha256": spec.download.sha256 if spec.download else None,
                     "n_train": ds.n_train, "n_test": ds.n_test,
                     "fetch_seconds": round(t_fetch, 3), "load_seconds": round(t_load, 3)})
    if fmt == OutputFormat.json:
        print_json(rows)
        return
    print_table("Fetched data sets", ["name", "status", "size", "train/test", "fetch s", "load s", "path"],
                [[r["name"], r["status"], _size(r["size"]), f"{r['n_train']}/{r['n_test']}", f"{r['fetch_seconds']:.2f}",
                  f"{r['load_seconds']:.2f}", r["path"] or "-"] for r in rows])


@app.command("info")
@cli_errors
def info_(
    name: Annotated[str, typer.Argument(help="Data set name (see `ledgerlearn data list`).")],
    fmt: FormatOpt = OutputFormat.table,
    cache_dir: CacheDirOpt = None,
) -> None:
    """Source, pinned sha256 and URL, split sizes, classes, licence and citation of one data set."""
    from ledgerlearn.datasets import dataset_info

    i = dataset_info(name, cache_dir=cache_dir)
    if fmt == OutputFormat.json:
        print_json(i.to_dict())
        return
    print_kv(i.name, [
        ("description", i.description),
        ("kind", i.kind),
        ("source", i.source),
        ("version", i.version),
        ("url", i.url or "-"),
        ("sha256", i.sha256 or "-"),
        ("size", _size(i.size)),
        ("train / test", f"{i.n_train} / {i.n_test}"),
        ("classes", ", ".join(i.classes)),
        ("licence", i.licence or "-"),
        ("citation", i.citation or "-"),
        ("homepage", i.homepage or "-"),
        ("cached", _cached(i)),
        ("path", i.path or "-"),
    ])

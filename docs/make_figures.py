"""Regenerate the README's figures by running the notebooks' own code.

Each figure is taken from a notebook, run top to bottom exactly as CI runs it (the
jupytext ``.py``, CPU-fast defaults unless ``--full``), and picked out by the start of its
title, so the README always shows what the notebook draws:

    python docs/make_figures.py            # about a minute on a laptop CPU
    python docs/make_figures.py --full     # the notebooks' FULL = True settings

Writes ``docs/*.png`` (small: 150 KB at most each, checked).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import pathlib
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent
NOTEBOOKS = ROOT.parent / "notebooks"
MAX_BYTES = 150 * 1024

# (notebook, start of the figure's suptitle, file under docs/, dpi)
FIGURES = [
    ("04_loss_landscapes", "MLP on the digits: loss around", "landscape_mlp.png", 62),
    ("04_loss_landscapes", "22-layer network on the digits", "landscape_skip_connections.png", 60),
]


def title(fig) -> str:
    suptitle = fig.get_suptitle() if hasattr(fig, "get_suptitle") else ""
    return suptitle or " ".join(ax.get_title() for ax in fig.axes)


def shrink(path: pathlib.Path) -> None:
    """Rewrite a PNG with a 256-color palette: a third of the size, no visible change."""
    from PIL import Image

    with Image.open(path) as image:
        small = image.convert("RGB").quantize(256, method=Image.Quantize.MEDIANCUT)
    small.save(path, optimize=True)


def run_notebook(name: str, wanted: dict, full: bool) -> dict:
    """Execute notebook ``name`` cell by cell; return ``{file: saved}`` for wanted figures."""
    import jupytext
    import matplotlib.pyplot as plt

    notebook = jupytext.read(NOTEBOOKS / f"{name}.py")
    namespace = {"__name__": "__main__"}
    saved = {}
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        # IPython magics (%matplotlib inline) are comments in the .py and lines here.
        source = "\n".join(line for line in cell.source.splitlines()
                           if not line.lstrip().startswith("%"))
        if full:
            source = source.replace("FULL = False", "FULL = True")
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(source, f"{name}.py", "exec"), namespace)
        for number in plt.get_fignums():
            fig = plt.figure(number)
            for prefix, (filename, dpi) in wanted.items():
                if title(fig).startswith(prefix) and filename not in saved:
                    path = ROOT / filename
                    fig.savefig(path, dpi=dpi, bbox_inches="tight")
                    shrink(path)
                    saved[filename] = path
        plt.close("all")
    return saved


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="the notebooks' full-size settings")
    args = parser.parse_args(argv)

    import matplotlib

    matplotlib.use("Agg")
    start = time.perf_counter()
    failures = 0
    for name in dict.fromkeys(nb for nb, *_ in FIGURES):
        wanted = {prefix: (filename, dpi) for nb, prefix, filename, dpi in FIGURES if nb == name}
        saved = run_notebook(name, wanted, args.full)
        for prefix, (filename, _) in wanted.items():
            if filename not in saved:
                print(f"{name}: no figure titled {prefix!r}...; update FIGURES", file=sys.stderr)
                failures += 1
                continue
            size = saved[filename].stat().st_size
            flag = "" if size <= MAX_BYTES else f"  (over {MAX_BYTES // 1024} KB: lower its dpi)"
            failures += size > MAX_BYTES
            print(f"docs/{filename}: {size / 1024:.0f} KB from {name}{flag}")
    print(f"done in {time.perf_counter() - start:.0f} s")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

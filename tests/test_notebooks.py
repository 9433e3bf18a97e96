"""Every notebook runs clean from a fresh kernel, matches its jupytext pair, has no outputs.

Each ``notebooks/NAME.ipynb`` (what Colab opens) is generated from ``notebooks/NAME.py``
(jupytext percent format, what reviewers diff) with ``jupytext --sync notebooks/NAME.py``.
The notebooks run with their CPU-fast defaults (``FULL = False``).
"""

import pathlib

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
jupytext = pytest.importorskip("jupytext")

# Deprecations inside jupyter_client/zmq/traitlets are not jnn's to fix.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

NOTEBOOK_DIR = pathlib.Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
CELL_TIMEOUT = 600  # seconds per cell; generous for a busy 2-core CI machine
COLAB = "https://colab.research.google.com/github/"


def code_cells(notebook):
    return [cell.source.strip() for cell in notebook.cells if cell.cell_type == "code"]


def test_there_are_notebooks():
    assert NOTEBOOKS, f"no notebooks found in {NOTEBOOK_DIR}"
    stems = {p.stem for p in NOTEBOOK_DIR.glob("*.py")}
    assert stems == {p.stem for p in NOTEBOOKS}, "every .py needs its .ipynb and vice versa"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_paired_stripped_and_has_a_badge(path):
    notebook = nbformat.read(path, as_version=4)
    paired = jupytext.read(path.with_suffix(".py"))
    assert code_cells(notebook) == code_cells(paired), (
        f"{path.name} is out of sync with {path.stem}.py; run "
        f"`jupytext --sync notebooks/{path.stem}.py`"
    )
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, (
                f"{path.name} has stored outputs; strip them (jupytext --sync regenerates "
                f"the notebook without outputs)"
            )
    first = notebook.cells[0]
    assert first.cell_type == "markdown" and f"{COLAB}" in first.source
    assert f"/notebooks/{path.name}" in first.source, "the Colab badge links another notebook"
    setup = code_cells(notebook)[0]
    assert '"google.colab" in sys.modules' in setup and "jax.devices()" in setup
    assert any("FULL = False" in source for source in code_cells(notebook))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(path):
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        notebook, timeout=CELL_TIMEOUT, kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK_DIR)}},
    )
    client.execute()  # raises CellExecutionError, with the traceback, on any error


def _docs_module(name):
    import importlib.util

    path = NOTEBOOK_DIR.parent / "docs" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"docs_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_link_points_at_one_repository():
    repository = _docs_module("repository")
    expected = {(repository.REPOSITORY, repository.BRANCH), (repository.REPOSITORY, None)}
    for path in repository.files():
        found = repository.addresses(path.read_text(encoding="utf-8"))
        assert found, f"{path.name} has no Colab badge or install line"
        assert found <= expected, (
            f"{path.name} links {sorted(found - expected, key=str)}, not "
            f"{repository.REPOSITORY} ({repository.BRANCH}); run `python docs/repository.py "
            f"{repository.REPOSITORY}`")


def test_readme_lists_every_notebook_and_shows_small_figures():
    readme = (NOTEBOOK_DIR.parent / "README.md").read_text(encoding="utf-8")
    for path in NOTEBOOKS:
        assert f"{COLAB}" in readme and f"/notebooks/{path.name})" in readme, (
            f"README.md has no Colab badge for {path.name}")
    figures = _docs_module("make_figures")
    for *_, filename, _ in figures.FIGURES:
        png = NOTEBOOK_DIR.parent / "docs" / filename
        assert f"(docs/{filename})" in readme, f"README.md does not show docs/{filename}"
        assert png.is_file() and png.stat().st_size <= figures.MAX_BYTES, (
            f"docs/{filename} is missing or over {figures.MAX_BYTES} bytes; run "
            "`python docs/make_figures.py`")

"""The one place that says where jnn's repository lives, for Colab badges and installs.

The notebooks' "Open in Colab" badges, their first cell's ``pip install jnn @ git+...``
line and the README's notebook list all point at ``github.com/REPOSITORY`` on ``BRANCH``.
Markdown cannot read a setting, so the links are written out in every file; this script
rewrites them all (and the two constants below) from one value:

    python docs/repository.py someone/jnn            # set the owner/name everywhere
    python docs/repository.py someone/jnn --branch dev
    python docs/repository.py --check                # exit 1 if any file disagrees

The placeholder owner ``OWNER`` stands until the repository's public address is known.
``tests/test_notebooks.py`` checks that every file uses the same address.
"""

from __future__ import annotations

import argparse
import pathlib
import re
import sys

REPOSITORY = "OWNER/jnn"
BRANCH = "main"

ROOT = pathlib.Path(__file__).resolve().parent.parent
COLAB = "https://colab.research.google.com/github/"
SLUG = r"[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9_.-]+"
# Colab links: .../github/OWNER/NAME/blob/BRANCH/notebooks/...; installs: git+https://github.com/OWNER/NAME
COLAB_LINK = re.compile(re.escape(COLAB) + rf"(?P<slug>{SLUG})/blob/(?P<branch>[^/\s)]+)/")
INSTALL = re.compile(rf"git\+https://github\.com/(?P<slug>{SLUG}?)(?=[\\\"'@\s])")  # \" in .ipynb


def files() -> list[pathlib.Path]:
    """Every file that carries the repository's address."""
    notebooks = sorted((ROOT / "notebooks").glob("*.py")) + sorted(
        (ROOT / "notebooks").glob("*.ipynb"))
    return [*notebooks, ROOT / "README.md"]


def addresses(text: str) -> set[tuple[str, str | None]]:
    """The ``(owner/name, branch)`` pairs a text links to (``branch`` is None for installs)."""
    found = {(m["slug"], m["branch"]) for m in COLAB_LINK.finditer(text)}
    return found | {(m["slug"], None) for m in INSTALL.finditer(text)}


def rewrite(text: str, repository: str, branch: str) -> str:
    text = COLAB_LINK.sub(f"{COLAB}{repository}/blob/{branch}/", text)
    return INSTALL.sub(f"git+https://github.com/{repository}", text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("repository", nargs="?", default=None,
                        help=f"owner/name on GitHub (default: {REPOSITORY})")
    parser.add_argument("--branch", default=BRANCH)
    parser.add_argument("--check", action="store_true",
                        help="only report files that point elsewhere")
    args = parser.parse_args(argv)
    repository = args.repository or REPOSITORY
    if not re.fullmatch(SLUG, repository):
        parser.error(f"repository must look like owner/name; got {repository!r}")
    stale = []
    for path in files():
        text = path.read_text(encoding="utf-8")
        wanted = {(repository, args.branch), (repository, None)}
        if addresses(text) - wanted:
            stale.append(path)
            if not args.check:
                path.write_text(rewrite(text, repository, args.branch), encoding="utf-8")
    verb = "point elsewhere" if args.check else "rewritten"
    for path in stale:
        print(f"{path.relative_to(ROOT)}: {verb}")
    if args.check or not stale:
        print(f"{len(files()) - len(stale)} of {len(files())} files point at "
              f"github.com/{repository} ({args.branch})")
    if not args.check and (repository, args.branch) != (REPOSITORY, BRANCH):
        me = pathlib.Path(__file__)
        own = re.sub(r'^REPOSITORY = ".*"$', f'REPOSITORY = "{repository}"',
                     me.read_text(encoding="utf-8"), count=1, flags=re.M)
        own = re.sub(r'^BRANCH = ".*"$', f'BRANCH = "{args.branch}"', own, count=1, flags=re.M)
        me.write_text(own, encoding="utf-8")
        print(f"{me.relative_to(ROOT)}: REPOSITORY = {repository!r}, BRANCH = {args.branch!r}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())

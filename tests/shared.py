"""The shared folder the tests read beside the repository (`../shared`): Clickpost's published
error-code table and the real log shippers with their captured requests.

`SHARED_DIR` names another place for the folder, `SHIPPERS_DIR` for its `shippers/` alone (the
Makefile passes both on, and `make shipper-deps` installs the clients from SHIPPERS_DIR). A test
that needs a missing one fails, naming the variable to set: it never skips, so a clone without
the folder cannot pass with those tests unrun.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DIR = Path(os.environ.get("SHARED_DIR") or REPO.parent / "shared")
SHIPPERS_DIR = Path(os.environ.get("SHIPPERS_DIR") or SHARED_DIR / "shippers")
ERROR_CODES = SHARED_DIR / "error-codes.txt"


def require(path: Path) -> Path:
    """`path` (SHIPPERS_DIR, ERROR_CODES or inside them), or the test fails saying what to set."""
    if not path.exists():
        variable = "SHIPPERS_DIR" if path.is_relative_to(SHIPPERS_DIR) else "SHARED_DIR"
        pytest.fail(
            f"SHARED FILES MISSING: {path} does not exist. Put the shared folder beside the "
            f"repository (../shared) or set {variable} (README: Tests)",
            pytrace=False,
        )
    return path

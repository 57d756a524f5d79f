"""A clone without the shared folder (../shared) fails the tests that read it, naming the
variable to set; it never skips them (tests/shared.py)."""

from __future__ import annotations

import pytest

from tests import shared


@pytest.mark.parametrize(
    ("path", "variable"),
    [
        (shared.SHIPPERS_DIR / "no-such-shipper" / "captured", "SHIPPERS_DIR"),
        (shared.SHARED_DIR / "no-such-table.txt", "SHARED_DIR"),
    ],
)
def test_a_missing_shared_file_fails_the_test_naming_the_variable(path, variable):
    with pytest.raises(pytest.fail.Exception, match=f"SHARED FILES MISSING: .* set {variable}"):
        shared.require(path)


def test_the_shared_folder_is_there():
    """Where ../shared is missing, this says so first."""
    shared.require(shared.ERROR_CODES)
    shared.require(shared.SHIPPERS_DIR)

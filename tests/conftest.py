from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    """The reference fixtures, in the shared folder beside the repository (never copied in)."""
    path = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "reference"
    if not path.is_dir():
        # a missing fixture folder is a broken checkout, not a reason to skip
        pytest.fail(f"reference fixtures not found at {path}: clone the repository beside ../shared")
    return path

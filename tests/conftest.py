"""Shared pytest configuration. Each section is self-contained; add yours as a new section."""

from __future__ import annotations

import pytest
from needs import missing

# --- Real-Slurm harness (tests/slurm/test_real_slurm.py) ---------------------------------
# The `slurm` marker and its gate. Tests marked `slurm` start real munged/slurmctld/
# slurmd (Slurm 26.05, in the chroot of postrender/data/slurm-chroot.sh); without it they
# skip, except under CI, where a skip would hide that the generated configuration was
# never proven against Slurm, so they fail instead.


# specname lets this hook live beside another section's own pytest_configure.
@pytest.hookimpl(specname="pytest_configure")
def pytest_configure_slurm_marker(config: pytest.Config) -> None:
    """Register the `slurm` marker (pytest runs with --strict-markers)."""
    config.addinivalue_line(
        "markers",
        "slurm: starts real Slurm 26.05 daemons on loopback (needs root and the chroot "
        "`make slurm-chroot` builds); skips when absent, fails when CI is set",
    )


@pytest.fixture(scope="session")
def slurm_required() -> None:
    """Skip (or fail under CI) when this machine cannot run the Slurm harness."""
    from postrender.slurm.chroot import unavailable_reason

    reason = unavailable_reason()
    if reason is not None:
        missing(reason, "the real-Slurm tests")


@pytest.fixture(autouse=True)
def _slurm_marker_gate(request: pytest.FixtureRequest) -> None:
    """Apply `slurm_required` to every test marked `slurm`."""
    if request.node.get_closest_marker("slurm") is not None:
        request.getfixturevalue("slurm_required")


# --- end of Real-Slurm harness section ---------------------------------------------

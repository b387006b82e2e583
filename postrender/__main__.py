"""``python -m postrender`` is the post-renderer (what the Helm 4 plugin runs)."""

from postrender.cli.slinky_pr import entry

entry()

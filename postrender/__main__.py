"""``python -m postrender`` is the post-renderer (what the Helm 4 plugin runs)."""

from postrender.run import entry

entry()

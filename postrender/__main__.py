"""``python -m postrender`` is the post-renderer (what the Helm 4 plugin runs)."""

from postrender.cli import postrender_main

postrender_main()

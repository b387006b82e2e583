"""``SLINKY_PR_LIBRARY_PATH=1``: every hand-written fast path steps aside for the library it
is held to. PyYAML reads and writes every document and profile, jsonschema_rs decides every
schema check and cel-python every CEL rule. The output must not change (the differential
tests hold the fast paths to these libraries); use it to rule the fast paths in or out when
something looks wrong, and to see what they buy (``bench/bench.py`` runs both).

Read from the environment once, when the module is imported; callers look it up through
this module at each use, so tests can set it.
"""

from __future__ import annotations

import os

LIBRARY_PATH = os.environ.get("SLINKY_PR_LIBRARY_PATH", "").lower() in ("1", "true", "yes")

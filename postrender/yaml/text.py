"""What every YAML reader here shares: libyaml's line breaks and the error for text that is not
YAML.
"""

from __future__ import annotations

import re

LINE_BREAK = re.compile(r"\r\n|[\r\n\x85\u2028\u2029]")  # what libyaml counts as one


class Unreadable(ValueError):
    """A document that is not YAML, or is refused; the message says where."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint

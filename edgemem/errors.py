"""Errors a person can act on.

Every error the runtime expects (bad input, a corrupt bundle, a full disk) is an ``EdgememError``
whose message is one line that says what is wrong and, where possible, what to do. The CLI and the
server print that line; anything else is a bug and still must not reach a patient as a traceback.
"""

from __future__ import annotations


class EdgememError(Exception):
    """A failure with a one-line, user-facing message."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))


class BundleError(EdgememError):
    """A bundle is missing, corrupt, tampered with, unsigned, or incompatible."""


class ProfileError(EdgememError):
    """A firmware profile does not exist or does not validate."""


class InputError(EdgememError):
    """Malformed input from a user, a file or an API request."""
    exit_code = 2

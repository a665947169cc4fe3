"""The environments' one error: input they cannot use."""

from __future__ import annotations

from cosim.errors import InputError

__all__ = ["EnvConfigError"]


class EnvConfigError(InputError):
    """A scenario or option the environment cannot drive (one line naming the field and what is allowed)."""

"""User-facing errors: the CLI prints their message on one line and exits with code 2."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


class DeepfakeLabError(Exception):
    """Base class for errors caused by the user's input, options or environment (not by a bug)."""


class MissingDataError(DeepfakeLabError):
    """A dataset or corpus item is not in the cache; the message says how to get it."""


class BadInputError(DeepfakeLabError):
    """A file, folder or option that cannot be used (corrupt media, wrong type, absurd size...)."""


@dataclass(frozen=True)
class Ref:
    """An option named inside an `OptionError` message (by its library name, e.g. ``detect_every``)."""

    name: str


def cli_flag(name: str) -> str:
    """The command-line spelling of an option's library name: ``detect_every`` → ``--detect-every``."""
    return "--" + name.replace("_", "-")


class OptionError(BadInputError):
    """A bad option value. The library names options by their own names; each front end renders them in its
    own spelling (`render(cli_flag)` in the CLI, the field name in the web API), so no library message names a
    CLI flag.

    Example:
        >>> err = OptionError(Ref("every"), " must be >= 1, got 0")
        >>> str(err), err.render(cli_flag)
        ('every must be >= 1, got 0', '--every must be >= 1, got 0')
    """

    def __init__(self, *parts: str | Ref) -> None:
        self.parts = parts
        super().__init__(self.render())

    @property
    def options(self) -> tuple[str, ...]:
        """The option names the message mentions."""
        return tuple(p.name for p in self.parts if isinstance(p, Ref))

    def render(self, label: Callable[[str], str] = str) -> str:
        """The message with each option written as `label(name)`."""
        return "".join(label(p.name) if isinstance(p, Ref) else p for p in self.parts)

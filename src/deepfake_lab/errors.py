"""User-facing errors: the CLI prints their message on one line and exits with code 2."""


class DeepfakeLabError(Exception):
    """Base class for errors caused by the user's input, options or environment (not by a bug)."""


class MissingDataError(DeepfakeLabError):
    """A dataset or corpus item is not in the cache; the message says how to get it."""


class BadInputError(DeepfakeLabError):
    """A file, folder or option that cannot be used (corrupt media, wrong type, absurd size...)."""

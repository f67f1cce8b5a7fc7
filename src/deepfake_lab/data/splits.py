"""The held-out split of a dataset, falling back to the training split when the data has none.

Example:
    >>> from deepfake_lab.data.datasets import load_dataset
    >>> len(load_test_split(load_dataset, "digits")) < 1797  # the digits test split
    True
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from deepfake_lab.errors import BadInputError

D = TypeVar("D")


def load_test_split(loader: Callable[..., D], source: Any, *, fallback: D | None = None, **kwargs: Any) -> D:
    """`loader(source, "test", **kwargs)`, or the training split when the data has no test split.

    Args:
        loader: a dataset loader taking `(source, split, **kwargs)` (`load_dataset`, `load_faceset`,
            `load_unpaired`, ...) that raises BadInputError for a split it cannot give.
        source: the dataset name or folder.
        fallback: the training split already loaded (returned as is); None loads `loader(source, "train",
            **kwargs)`.
        **kwargs: passed to the loader (image size, channels, ...).
    """
    try:
        return loader(source, "test", **kwargs)
    except BadInputError:
        return fallback if fallback is not None else loader(source, "train", **kwargs)

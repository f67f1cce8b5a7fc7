"""Named registries of factories: models (and training tasks) are found by name, never by import path.

`Registry` is the mechanism; `MODELS` is filled by the `@register_model` decorators of `deepfake_lab.models`.
Building a model by name needs the whole catalogue imported: that is `deepfake_lab.models.catalogue`
(`create_model`, `list_models`); `deepfake_lab.models.infos` lists the models without importing torch.

Example:
    >>> reg: Registry[int] = Registry("number")
    >>> _ = reg.register("one", family="small")(lambda: 1)
    >>> reg.get("one").factory(), reg.names("small")
    (1, ['one'])
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from deepfake_lab.errors import BadInputError

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn

T = TypeVar("T")


@dataclass(frozen=True)
class Entry(Generic[T]):
    """One registered factory with its family tag and free-form metadata."""

    name: str
    factory: Callable[..., T]
    family: str
    tags: dict[str, Any] = field(default_factory=dict)

    @property
    def summary(self) -> str:
        doc = inspect.getdoc(self.factory) or ""
        return doc.splitlines()[0] if doc else ""


class Registry(Generic[T]):
    """A name -> factory map; registering a name twice is an error."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Entry[T]] = {}

    def register(self, name: str, *, family: str, **tags: Any) -> Callable[[Callable[..., T]], Callable[..., T]]:
        """Decorator registering `factory` under `name`."""

        def deco(factory: Callable[..., T]) -> Callable[..., T]:
            if name in self._entries:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            self._entries[name] = Entry(name=name, factory=factory, family=family, tags=dict(tags))
            return factory

        return deco

    def get(self, name: str) -> Entry[T]:
        try:
            return self._entries[name]
        except KeyError:
            known = ", ".join(sorted(self._entries))
            raise BadInputError(f"unknown {self.kind} {name!r}; known: {known}") from None

    def names(self, family: str | None = None) -> list[str]:
        return sorted(n for n, e in self._entries.items() if family is None or e.family == family)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[Entry[T]]:
        return iter(sorted(self._entries.values(), key=lambda e: (e.family, e.name)))


MODELS: Registry[nn.Module] = Registry("model")


def register_model(
    name: str, *, family: str, **tags: Any
) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Register a model factory: `@register_model("ae-dense", family="autoencoder", task="autoencoder")`."""
    return MODELS.register(name, family=family, **tags)

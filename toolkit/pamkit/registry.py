"""Registered plug-ins by name (merge methods, pruning criteria, fine-tuning recipes): one way to add and find them."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from .errors import PamkitError

T = TypeVar("T")


class Registry(dict[str, type[T]], Generic[T]):
    """Classes by their ``name`` attribute; ``register`` is a class decorator, ``create`` builds one by name."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind  # what one is, for messages: "merge method"

    def register(self, cls: type[T]) -> type[T]:
        """Make ``cls`` available by its ``name``; a name taken by another class is refused."""
        name = cls.name  # type: ignore[attr-defined]  # every registered class names itself
        if name in self and self[name] is not cls:
            raise PamkitError(f"a {self.kind} named {name!r} is already registered ({self[name].__name__})")
        self[name] = cls
        return cls

    def create(self, name: str, **config: Any) -> T:
        """An instance of the class registered as ``name`` with ``config``; PamkitError naming the known ones."""
        if name not in self:
            raise PamkitError(f"unknown {self.kind} {name!r}; use one of {', '.join(self)}")
        try:
            return self[name](**config)
        except TypeError as exc:
            raise PamkitError(f"{self.kind} {name!r}: {exc}; give only its own settings") from None

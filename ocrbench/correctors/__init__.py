"""The correctors. `ocrbench.correctors` is also their registry (`from_spec`, `create`, `names`,
`get`, `describe`): importing this package, as building one does, rebinds that name to the
package, so the package answers for the registry."""

from __future__ import annotations

from typing import Any

_REGISTRY = frozenset({"from_spec", "create", "names", "get", "describe", "kind", "group"})


def __getattr__(name: str) -> Any:
    if name in _REGISTRY:
        from ocrbench import registry

        return getattr(registry.correctors, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

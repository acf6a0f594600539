"""Find engines and correctors by name, and build them from "name:key=value,..." specs.

Built-ins are listed as "module:Class" strings and imported only when asked for, so `import
ocrbench` never pulls torch or llama_cpp. Third-party packages add their own through the entry point
groups "ocrbench.engines" and "ocrbench.correctors", the way papermill finds engines.

A component is a frozen dataclass whose fields are its parameters: building one validates them
(types here, ranges in the class's own `__post_init__`), so a whole grid is checked before anything
heavy loads.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import math
import re
import textwrap
import types
import typing
from collections.abc import Mapping
from importlib.metadata import entry_points
from typing import Any, Generic, TypeVar

from ocrbench.errors import ConfigError

T = TypeVar("T")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


# A comma starts a new parameter only where a `key=` follows it, so a value may hold commas
# ("easyocr:lang=en,fr"); a value in matching quotes may hold anything, "key=" included.
_ITEM = re.compile(
    r"""\s*([^=,\s][^=,]*?)\s*=\s*("[^"]*"|'[^']*'|.*?)\s*(?:,(?=\s*[\w-]+\s*=)|$)"""
)


def parse_spec(spec: str) -> tuple[str, dict[str, str]]:
    """Split "tesseract:lang=eng,psm=6" into ("tesseract", {"lang": "eng", "psm": "6"})."""
    name, _, rest = spec.strip().partition(":")
    if not name:
        raise ConfigError(f"bad spec {spec!r}: expected NAME[:key=value,...]")
    params: dict[str, str] = {}
    at, rest = 0, rest.strip().strip(",")
    while at < len(rest):
        found = _ITEM.match(rest, at)
        if found is None or found.end() == at:
            item = rest[at:].split(",")[0].strip()
            raise ConfigError(f"bad parameter {item!r} in {spec!r}: expected key=value")
        key, value = found.group(1), found.group(2)
        if key in params:
            raise ConfigError(f"{key!r} is given twice in {spec!r}: give it once")
        quoted = len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'"
        params[key] = value[1:-1] if quoted else value
        at = found.end()
    return name, params


def did_you_mean(word: str, choices: typing.Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _coerce(value: Any, hint: Any, where: str) -> Any:
    """Turn a spec's string (or a YAML scalar) into the field's declared type."""
    origin = typing.get_origin(hint)
    optional = origin in (typing.Union, types.UnionType) and type(None) in typing.get_args(hint)
    if value is None and not optional:  # `config: ~`, or an empty `psm:`, is no value at all
        raise ConfigError(f"{where}: give a value, or leave the key out for its default")
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        empty = value is None or (isinstance(value, str) and value.lower() in ("none", "null"))
        if empty and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _coerce(value, option, where)
            except ConfigError as error:
                errors.append(str(error))
        raise ConfigError(errors[0] if errors else f"{where}: cannot be {value!r}")
    if origin is typing.Literal:
        allowed = typing.get_args(hint)
        if value not in allowed:
            raise ConfigError(
                f"{where} must be one of {', '.join(map(str, allowed))}, not {value!r}"
            )
        return value
    try:
        if hint is bool:
            if isinstance(value, bool):
                return value
            text = str(value).lower()
            if text in _TRUE | _FALSE:
                return text in _TRUE
            raise ValueError
        if hint is int:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            return int(value)
        if hint is float:
            if isinstance(value, bool):
                raise ValueError
            number = float(value)
            if not math.isfinite(number):  # NaN passes every range check (nan < 0 is false)
                raise ConfigError(f"{where} must be a finite number, not {value!r}")
            return number
        if hint is str:
            if isinstance(value, bool):  # `lang: no` in YAML: not the text "False"
                raise ConfigError(
                    f"{where}: YAML read a yes/no word as true or false: quote it, as in 'no'"
                )
            if not isinstance(value, (str, int, float)):
                raise ValueError
            return str(value)
    except (ValueError, TypeError):  # a list or a mapping where a number or text belongs
        name = getattr(hint, "__name__", str(hint))
        raise ConfigError(f"{where} must be {name}, not {value!r}") from None
    return value


def build(cls: type[T], params: Mapping[str, Any], where: str) -> T:
    """Construct a component dataclass from loosely typed params, with clear errors."""
    fields = {  # a callback (compare=False: `logging`) is set from Python, not from a spec
        f.name: f
        for f in dataclasses.fields(cls)  # type: ignore[arg-type]
        if f.init and f.compare and not f.name.startswith("_")
    }
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for key, value in params.items():
        if key not in fields:
            raise ConfigError(
                f"{where}: unknown parameter {key!r}{did_you_mean(key, fields)}; "
                f"known: {', '.join(fields) or 'none'}"
            )
        kwargs[key] = _coerce(value, hints[key], f"{where}: {key}")
    try:
        return cls(**kwargs)
    except (ValueError, TypeError) as error:
        raise ConfigError(f"{where}: {error}") from None


def params_of(component: Any) -> dict[str, Any]:
    """A component's parameters as a plain dict, for results and cache keys: its init fields, less
    those that take no part in what it is (compare=False, such as a logging callback)."""
    return {
        f.name: getattr(component, f.name)
        for f in dataclasses.fields(component)
        if f.init and f.compare and not f.name.startswith("_")
    }


class Registry(Generic[T]):
    """Named components of one kind: built-ins plus whatever entry points provide."""

    def __init__(self, kind: str, group: str, builtins: Mapping[str, str]):
        self.kind = kind
        self.group = group
        self._builtins = dict(builtins)

    def _entry_points(self) -> dict[str, Any]:
        return {ep.name: ep for ep in entry_points(group=self.group)}

    def names(self) -> list[str]:
        return sorted(set(self._builtins) | set(self._entry_points()))

    def get(self, name: str) -> type[T]:
        if name in self._builtins:
            module, _, attr = self._builtins[name].partition(":")
            return typing.cast(type[T], getattr(importlib.import_module(module), attr))
        plugins = self._entry_points()
        if name in plugins:
            return typing.cast(type[T], plugins[name].load())
        raise ConfigError(
            f"unknown {self.kind} {name!r}{did_you_mean(name, self.names())}; "
            f"known: {', '.join(self.names())}"
        )

    def describe(self, name: str) -> list[str]:
        """What `ocrbench list -v` shows of a component: its docstring's first line, then one
        line per parameter with its type and default."""
        cls = self.get(name)
        doc = (cls.__doc__ or "").strip()
        if doc.startswith(f"{cls.__name__}("):  # dataclass's own: the signature, said below
            doc = ""
        first = " ".join(doc.split("\n\n")[0].split())
        lines = textwrap.wrap(f"{name}: {first}", 96, subsequent_indent="    ") if first else [name]
        for f in dataclasses.fields(typing.cast(Any, cls)):
            if not f.init or not f.compare or f.name.startswith("_"):  # not set from a spec
                continue
            if f.default is not dataclasses.MISSING:
                default = f" = {f.default!r}"
            elif f.default_factory is not dataclasses.MISSING:
                default = f" = {f.default_factory()!r}"
            else:
                default = " (required)"
            lines.append(f"    {f.name}: {f.type}{default}")
        return lines

    def create(self, name: str, params: Mapping[str, Any] | None = None) -> T:
        return build(self.get(name), params or {}, f"{self.kind} {name!r}")

    def from_spec(self, spec: str) -> T:
        name, params = parse_spec(spec)
        return self.create(name, params)


engines: Registry[Any] = Registry(
    "engine",
    "ocrbench.engines",
    {
        "tesseract": "ocrbench.engines.tesseract:Tesseract",
        "easyocr": "ocrbench.engines.easyocr:EasyOcr",
        "rapidocr": "ocrbench.engines.rapidocr:RapidOcr",
        "given": "ocrbench.engines.given:Given",
    },
)

correctors: Registry[Any] = Registry(
    "corrector",
    "ocrbench.correctors",
    {
        "identity": "ocrbench.correctors.identity:Identity",
        "lexicon": "ocrbench.correctors.lexicon:Lexicon",
        "prompt": "ocrbench.correctors.prompt:Prompt",
        "noisy-channel": "ocrbench.correctors.noisy_channel:NoisyChannel",
    },
)

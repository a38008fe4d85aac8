"""Chapter parameters: one check, called by every chapter right after its ``parameters`` cell.

A chapter declares its parameters once, in the cell papermill reads, as ``name: type = value  # help``
(the form ``papermill --help-notebook`` shows; no ``=`` inside the help, papermill skips such a line)::

    from typing import Optional

    seed: int = 0  # seed of the data, the initialisation and the views
    methods: list[str] = ["sdmi", "jmi"]  # methods to train
    epochs: Optional[int] = None  # pre-training epochs; None: the profile's default

and the first code cell after it calls::

    from mi_ssl import params
    params.check(globals())

:func:`check` reads the annotations (the same text ``papermill --help-notebook`` shows), adds what the
package knows about the parameters every chapter shares (:data:`COMMON`: method and data-set names from
the registries, device strings, the profiles, ranges), converts every value in place and refuses a bad
one with :class:`ParameterError`, one line naming the parameter, the value and what is allowed (shown
in Jupyter without a traceback).

Values may arrive as Python objects (papermill ``-y 'seeds: [1, 2]'``, ``-p epochs 5``) or as text
(papermill ``-p methods '["jmi", "sdmi"]'`` passes the string): text is read as JSON/YAML
(``'[jmi, sdmi]'``), a comma-separated list (``jmi,sdmi``) or one item (``jmi``: a one-item list).

Annotations understood: ``int``, ``float``, ``str``, ``bool``, ``list[T]`` of those, and ``Optional[T]``
or ``T | None`` (``None`` is then allowed; a parameters cell writes ``Optional[T]``, which papermill can
read, ``T | None`` it cannot).
"""

from __future__ import annotations

import json
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from .checks import check_int, check_real
from .data import DATASETS, canonical_name
from .methods import METHODS, PROFILES
from .networks import BACKBONES
from .util import resolve_device

__all__ = ["ParameterError", "Spec", "Int", "Real", "Text", "Bool", "Choice", "Device", "ListOf", "COMMON",
           "check", "spec_from_annotation"]


class ParameterError(ValueError):
    """A chapter parameter with a value that is not allowed; the message is one line.

    Jupyter (IPython) shows exactly that line, without a traceback, through ``_render_traceback_``.
    """

    def _render_traceback_(self) -> list[str]:
        return [f"{type(self).__name__}: {self}"]


class _Invalid(Exception):
    """Raised by a :class:`Spec` for a value it refuses; :func:`check` turns it into a ParameterError."""


_MISSING = object()


def _parse_text(text: str) -> Any:
    """Text from ``papermill -p`` -> a Python value: JSON, else YAML (if installed), else the text."""
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        import yaml
    except ImportError:         # PyYAML comes with papermill; without it, JSON and plain text are read
        return text
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


# ------------------------------------------------------------------------------------ specs
@dataclass(frozen=True)
class Spec(ABC):
    """What one parameter accepts. ``type_name`` is the annotation a chapter must write for it."""

    type_name = "object"

    @abstractmethod
    def convert(self, value: Any) -> Any:
        """The accepted value (converted), or raise ``_Invalid``."""

    @abstractmethod
    def describe(self, plural: bool = False) -> str:
        """What is allowed, as a phrase: ``"an integer >= 1"`` (``plural``: ``"integers >= 1"``)."""


@dataclass(frozen=True)
class Int(Spec):
    """An integer ``>= minimum``; text such as ``"12"`` is read."""

    minimum: int | None = None
    type_name = "int"

    def convert(self, value: Any) -> int:
        if isinstance(value, str):
            value = _parse_text(value.strip())
        try:
            return check_int(value, "value", -(2**63) if self.minimum is None else self.minimum)
        except (TypeError, ValueError):
            raise _Invalid from None

    def describe(self, plural: bool = False) -> str:
        word = "integers" if plural else "an integer"
        return word if self.minimum is None else f"{word} >= {self.minimum}"


@dataclass(frozen=True)
class Real(Spec):
    """A finite real number, ``> 0`` if ``positive``, in ``[minimum, maximum]`` if given; text is read."""

    positive: bool = False
    minimum: float | None = None
    maximum: float | None = None
    type_name = "float"

    def convert(self, value: Any) -> float:
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                raise _Invalid from None
        try:
            x = check_real(value, "value", positive=self.positive)
        except (TypeError, ValueError):
            raise _Invalid from None
        if (self.minimum is not None and x < self.minimum) or (self.maximum is not None and x > self.maximum):
            raise _Invalid
        return x

    def describe(self, plural: bool = False) -> str:
        word = "finite numbers" if plural else "a finite number"
        bounds = ["> 0" if self.positive else "", f">= {self.minimum}" if self.minimum is not None else "",
                  f"<= {self.maximum}" if self.maximum is not None else ""]
        return " ".join([word, " and ".join(b for b in bounds if b)]).strip()


@dataclass(frozen=True)
class Text(Spec):
    """Any text (a path, a name checked later by the code that uses it)."""

    what: str = "non-empty text"
    type_name = "str"

    def convert(self, value: Any) -> str:
        if not isinstance(value, str) or not value.strip():
            raise _Invalid
        return value

    def describe(self, plural: bool = False) -> str:
        return f"{self.what}s" if plural else f"a {self.what}"


@dataclass(frozen=True)
class Bool(Spec):
    """``True``/``False``; text ``true``/``false``/``yes``/``no``/``1``/``0`` is read."""

    type_name = "bool"

    def convert(self, value: Any) -> bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str):
            word = value.strip().lower()
            if word in ("true", "yes", "1", "on"):
                return True
            if word in ("false", "no", "0", "off"):
                return False
        raise _Invalid

    def describe(self, plural: bool = False) -> str:
        return "True or False values" if plural else "True or False"


@dataclass(frozen=True)
class Choice(Spec):
    """One of ``values``; ``normalise`` maps an accepted spelling to its canonical name (or raises)."""

    values: tuple[str, ...] = ()
    what: str = "name"
    normalise: Callable[[str], str] | None = None
    type_name = "str"

    def convert(self, value: Any) -> str:
        if not isinstance(value, str):
            raise _Invalid
        if self.normalise is not None:
            try:
                value = self.normalise(value)
            except (ValueError, KeyError):
                raise _Invalid from None
        if value not in self.values:
            raise _Invalid
        return value

    def describe(self, plural: bool = False) -> str:
        one = f"one of {', '.join(self.values)}"
        return f"{self.what}s (each {one})" if plural else f"a {self.what} ({one})"


@dataclass(frozen=True)
class Device(Spec):
    """A device string that exists here: ``auto``, ``cpu``, ``cuda``, ``cuda:N`` (see ``util.resolve_device``)."""

    type_name = "str"

    def convert(self, value: Any) -> str:
        if not isinstance(value, str):
            raise _Invalid
        try:
            resolve_device(value)
        except ValueError:
            no_cuda = value.strip().startswith("cuda") and not torch.cuda.is_available()
            raise _Invalid("no CUDA device is available here" if no_cuda else "") from None
        return value

    def describe(self, plural: bool = False) -> str:
        return "devices (auto, cpu, cuda, cuda:N)" if plural else "a device here: auto, cpu, cuda or cuda:N"


@dataclass(frozen=True)
class ListOf(Spec):
    """A list of ``item`` values, at least ``min_len`` long, without repeats if ``unique``.

    Text is read as JSON/YAML (``'[1, 2]'``), as a comma-separated list (``'1,2'``) or as one item (``'1'``);
    a single non-list value is a one-item list.
    """

    item: Spec = Text()
    min_len: int = 1
    unique: bool = False

    @property
    def type_name(self) -> str:  # type: ignore[override]
        return f"list[{self.item.type_name}]"

    def convert(self, value: Any) -> list[Any]:
        if isinstance(value, str):
            parsed = _parse_text(value.strip())
            if isinstance(parsed, str) and "," in parsed:
                parsed = [v.strip() for v in parsed.split(",") if v.strip()]
            value = parsed
        if isinstance(value, (tuple, list)):
            items = list(value)
        elif value is None or isinstance(value, (dict, set)):
            raise _Invalid
        else:
            items = [value]
        out = []
        for v in items:
            try:
                out.append(self.item.convert(v))
            except _Invalid as e:
                raise _Invalid(f"item {v!r} is not allowed{f' ({e})' if str(e) else ''}") from e
        if len(out) < self.min_len:
            raise _Invalid("the list is empty" if not out else f"only {len(out)} item{'s' if len(out) > 1 else ''}")
        if self.unique and len(set(out)) < len(out):
            raise _Invalid(f"repeated item {next(v for i, v in enumerate(out) if v in out[:i])!r}")
        return out

    def describe(self, plural: bool = False) -> str:
        rules = ([f"at least {self.min_len}"] if self.min_len > 1 else ["not empty"] if self.min_len else []) + \
            (["no repeats"] if self.unique else [])
        return ", ".join([f"{'lists' if plural else 'a list'} of {self.item.describe(plural=True)}", *rules])


_SCALARS: dict[str, Spec] = {"int": Int(), "float": Real(), "str": Text(), "bool": Bool()}


def spec_from_annotation(annotation: Any) -> tuple[Spec, bool]:
    """``(spec, optional)`` for a parameter annotation (a type, ``list[int]``, or its text)."""
    if isinstance(annotation, str):
        text = annotation
    elif isinstance(annotation, type):
        text = annotation.__name__                  # int, float, str, bool
    else:
        text = repr(annotation)                     # list[int], typing.Optional[int], int | None
    text = re.sub(r"\s+", "", text)
    optional = False
    m = re.fullmatch(r"(?:typing\.)?Optional\[(.+)\]|(.+)\|None|None\|(.+)", text)
    if m:
        optional, text = True, next(g for g in m.groups() if g)
    m = re.fullmatch(r"(?:list|List)\[(\w+)\]", text)
    if m and m.group(1) in _SCALARS:
        return ListOf(_SCALARS[m.group(1)]), optional
    if text in _SCALARS:
        return _SCALARS[text], optional
    raise TypeError(f"parameter annotation {annotation!r} is not understood; use int, float, str, bool, "
                    f"list[T] or 'Optional[T]' with T one of int, float, str, bool")


# ------------------------------------------------------------------------------ common parameters
def _common() -> dict[str, Spec]:
    method = Choice(tuple(METHODS), "method name", lambda s: s.strip().lower())
    return {
        "seed": Int(0),
        "seeds": ListOf(Int(0), unique=True),
        "device": Device(),
        "n_threads": Int(1),
        "epochs": Int(1),
        "batch_size": Int(2),
        "batch_sizes": ListOf(Int(2)),
        "lr": Real(positive=True),
        "tau": Real(positive=True),
        "method": method,
        "methods": ListOf(method, unique=True),
        "dataset": Choice(DATASETS, "data set name", canonical_name),
        "data_dir": Text("folder path"),
        "cache_dir": Text("folder path"),
        "profile": Choice(PROFILES, "profile"),
        "backbone": Choice(BACKBONES, "backbone name"),
        "probe_epochs": Int(1),
        "progress": Bool(),
    }


#: Parameters every chapter shares: name -> :class:`Spec` (what a non-``None`` value must be).
COMMON: dict[str, Spec] = _common()


# ------------------------------------------------------------------------------------ the check
def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def check(namespace: MutableMapping[str, Any], names: Sequence[str] | None = None, **specs: Spec
          ) -> dict[str, Any]:
    """Check and convert a chapter's parameters **in place** in ``namespace`` (pass ``globals()``).

    Args:
        namespace: the notebook's globals after its ``parameters`` cell (and papermill's injected one).
        names: the parameters to check; default: every annotated name (``namespace["__annotations__"]``).
        specs: chapter-specific constraints, ``name=Spec`` (e.g. ``dim=params.Int(1)``); they take
            precedence over :data:`COMMON`; other names get the plain type of their annotation.

    Returns:
        ``{name: converted value}``; the same values are written back into ``namespace``.

    Raises:
        ParameterError: a value that is not allowed, in one line: the parameter, the value as given
            and what is allowed.
        TypeError: the chapter itself is inconsistent (an annotation that disagrees with the package's
            spec of a common parameter, or a parameter without an annotation); a bug in the chapter.
    """
    annotations: dict[str, Any] = dict(namespace.get("__annotations__", {}))
    names = list(annotations) if names is None else list(names)
    if not names:
        raise TypeError("no annotated parameters found; write the parameters cell as `name: type = value  # help`")
    out: dict[str, Any] = {}
    for name in names:
        if name not in annotations:
            raise TypeError(f"parameter {name!r} has no annotation in the parameters cell "
                            f"(write `{name}: type = value  # help`)")
        declared, optional = spec_from_annotation(annotations[name])
        spec = specs.get(name) or (COMMON[name] if name in COMMON else declared)
        if spec.type_name != declared.type_name:
            raise TypeError(f"parameter {name!r} is annotated {annotations[name]!r} but mi_ssl.params expects "
                            f"{spec.type_name!r}{' (Optional allowed)' if name in COMMON else ''}")
        value = namespace.get(name, _MISSING)
        if value is _MISSING:
            raise TypeError(f"parameter {name!r} is annotated but has no value")
        if optional and (value is None or (isinstance(value, str) and value.strip() in ("None", "null", "~"))):
            out[name] = None
            continue
        try:
            out[name] = spec.convert(value)
        except _Invalid as e:
            allowed = spec.describe() + (", or None" if optional else "")
            raise ParameterError(f"parameter {name}={_shown(value)}: {str(e) or 'not allowed'}; expected {allowed}"
                                 ) from None
    namespace.update(out)
    return out

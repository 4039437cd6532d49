"""What every public name of the library gets: its arguments named, and its calls waited for at exit.

``public_names(globals())`` at the end of a module applies :func:`public_call` to each function and
class in its ``__all__``: a misspelt keyword is one ``ArgumentNameError`` naming the one meant, and
each call is a ``run_step`` block that the interpreter's exit waits for (``exits``).
"""

from __future__ import annotations

import difflib
import enum
import functools
import inspect
import sys
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from .errors import ArgumentNameError
from .exits import in_a_step, run_step

__all__ = ["public_call", "public_names"]

P = ParamSpec("P")
R = TypeVar("R")


def public_call(fn: Any) -> Any:
    """``fn`` as a public name of the library:

    * a call with an argument it does not take (``load_model("demo", devic="cpu")``) or without
      one it needs is one ``ArgumentNameError`` naming the argument, the ones it takes and the
      closest to a misspelt name, as ``paint()`` refuses an unknown setting: Python's own
      ``TypeError`` names neither (the arguments are checked only once such a call failed);
    * each call is a ``run_step`` block: one running in a daemon thread when the interpreter
      exits is waited for and its thread parked, instead of cut inside a torch call (which
      aborts the process). Long loops make each of their steps a block too.

    A class gets this for its constructor and each of its public methods. Traced by ``torch.compile``
    (a UNet's ``forward``, what it calls), the call is the bare function: the trace holds no threads.

    Args:
        fn: a public function, or a class.
    """
    if isinstance(fn, type):
        for name, member in list(vars(fn).items()):
            if name == "__init__" or not name.startswith("_"):
                if isinstance(member, (classmethod, staticmethod)) and not _is_public_call(member.__func__):
                    setattr(fn, name, type(member)(_wrapped(member.__func__)))
                elif inspect.isfunction(member) and not _is_public_call(member):
                    setattr(fn, name, _wrapped(member))
        return fn
    return fn if _is_public_call(fn) else _wrapped(fn)


def public_names(namespace: dict[str, Any]) -> None:
    """:func:`public_call` for every function and class a module defines and makes public (its
    ``__all__``), called once at the module's end (``public_names(globals())``): no public name is
    left with Python's bare ``TypeError`` for a misspelt keyword, nor cut at the interpreter's exit
    in a daemon thread. Exceptions and enums are left as they are.

    Args:
        namespace: the module's globals.
    """
    for name in namespace.get("__all__", ()):
        obj = namespace.get(name)
        if getattr(obj, "__module__", None) != namespace["__name__"]:
            continue  # another module's: named where it is defined
        if isinstance(obj, type) and not issubclass(obj, (BaseException, enum.Enum)):
            public_call(obj)
        elif inspect.isfunction(obj):
            namespace[name] = public_call(obj)


def _compiling() -> bool:
    """Whether ``torch.compile`` is tracing the call (torch is imported on first use: before, it cannot be)."""
    torch = sys.modules.get("torch")
    return torch is not None and torch.compiler.is_compiling()


def _is_public_call(fn: Any) -> bool:
    return getattr(fn, "__public_call__", False)


def _wrapped(fn: Callable[P, R]) -> Callable[P, R]:
    """``public_call`` for one function."""
    signature = inspect.signature(fn)
    taken = [name for name, p in signature.parameters.items()
             if name not in ("self", "cls") and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    label = fn.__qualname__.removesuffix(".__init__")

    def name_the_arguments(args: tuple, kwargs: dict) -> None:
        """Raise ``ArgumentNameError`` if the call itself was wrong (then fn never ran)."""
        try:
            signature.bind(*args, **kwargs)
        except TypeError as refused:
            unknown = [name for name in kwargs if name not in signature.parameters]
            close = [difflib.get_close_matches(name, taken, 1) for name in unknown]
            hint = "".join(f" (did you mean {match[0]!r} for {name!r}?)" for name, match in zip(unknown, close) if match)
            what = f"got unknown argument(s) {', '.join(map(repr, unknown))}" if unknown else str(refused)
            raise ArgumentNameError(f"{label}() {what}: its arguments are {', '.join(taken)}{hint}") from None

    @functools.wraps(fn)
    def call(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            if _compiling() or in_a_step():  # nothing to wait for, or waited for already
                return fn(*args, **kwargs)
            with run_step():
                return fn(*args, **kwargs)
        except TypeError:
            name_the_arguments(args, kwargs)
            raise  # a TypeError from inside fn: not this call's arguments

    call.__public_call__ = True  # type: ignore[attr-defined]
    return call

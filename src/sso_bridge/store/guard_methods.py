"""The wrapper that guards every public method of a SQL store class (:class:`Guarded`):
a bulkhead slot, the answer watchdog and errors mapped, by the engine's
:class:`~sso_bridge.store.guard.EngineGuard` (see :mod:`sso_bridge.store.guard`)."""

from __future__ import annotations

import functools
import inspect
import sys
from collections.abc import Callable
from types import FunctionType, MethodType
from typing import Any, ClassVar

from sqlalchemy.engine import Engine

from sso_bridge.errors import BridgeError
from sso_bridge.inline import refuse_blocking
from sso_bridge.store.guard import Call, EngineGuard, guard_for, raise_as_store_error
from sso_bridge.store.guard_wait import handling_waited, waited

__all__ = ["Guarded"]


def _guarded(func: Callable[..., Any], watched: bool) -> Callable[..., Any]:
    inner = getattr(func, "__wrapped__", None)
    if inner is not None and inspect.isgeneratorfunction(inner):
        # a @contextmanager method: guard the whole with-block
        @functools.wraps(func)
        def context(self: Guarded, *args: Any, **kwargs: Any) -> Any:
            return _GuardedContext(self._guard(), lambda: func(self, *args, **kwargs), watched)

        context.__sso_guarded__ = True  # type: ignore[attr-defined]
        return context

    @functools.wraps(func)
    def call(self: Guarded, *args: Any, **kwargs: Any) -> Any:
        guard = self._guard()
        call = guard.enter(watched)
        try:
            return func(self, *args, **kwargs)
        except BridgeError as exc:
            guard.passing(exc, call)
            raise
        except Exception as exc:
            error = guard.error(exc, call)
            if error is None:
                raise
            raise error from exc
        finally:
            guard.leave(call)

    call.__sso_guarded__ = True  # type: ignore[attr-defined]
    return call


def _light_read(func: Callable[..., Any], store: Guarded | None = None) -> Callable[..., Any]:
    """A read that takes no bulkhead slot on an engine without a watchdog (a local
    file): the pool bounds it there (it waits for a connection at most ``pool_timeout``),
    WAL readers wait for no lock, and no server can hang; its errors are mapped as
    always. Elsewhere it is guarded like any method. ``func`` takes the store first,
    unless ``store`` is given (a callable set on that store, bound here)."""
    if store is None:
        guarded = _guarded(func, watched=True)
    else:
        guarded = MethodType(_guarded(_unbound(func), True), store)

    def read(guard: EngineGuard, *args: Any, **kwargs: Any) -> Any:
        if guard.answer_timeout is not None:
            return guarded(*args, **kwargs)
        refuse_blocking()
        if sys.exc_info()[1] is not None and handling_waited():
            raise waited("this request has waited for the database already")
        try:
            return func(*args, **kwargs)
        except Exception as exc:
            raise_as_store_error(exc)

    if store is None:

        @functools.wraps(func)
        def call(self: Guarded, *args: Any, **kwargs: Any) -> Any:
            return read(self._guard(), self, *args, **kwargs)

    else:
        held = store

        @functools.wraps(func)
        def call(*args: Any, **kwargs: Any) -> Any:
            return read(held._guard(), *args, **kwargs)

    call.__sso_guarded__ = True  # type: ignore[attr-defined]
    return call


class _GuardedContext:
    def __init__(self, guard: EngineGuard, make: Callable[[], Any], watched: bool) -> None:
        self._guard = guard
        self._make = make
        self._watched = watched
        self._call: Call | None = None
        self._inner: Any = None

    def __enter__(self) -> Any:
        self._call = self._guard.enter(self._watched)
        try:
            self._inner = self._make()
            return self._inner.__enter__()
        except BaseException as exc:
            self._guard.leave(self._call)
            self._raise(exc)
            raise

    def __exit__(self, *exc_info: Any) -> Any:
        call = self._call
        try:
            return self._inner.__exit__(*exc_info)
        except BaseException as exc:
            self._raise(exc)
            raise
        finally:
            if call is not None:
                self._guard.leave(call)

    def _raise(self, exc: BaseException) -> None:
        if isinstance(exc, BridgeError):
            self._guard.passing(exc, self._call)
        elif isinstance(exc, Exception):
            error = self._guard.error(exc, self._call)
            if error is not None:
                raise error from exc


class Guarded:
    """Base of the SQL store classes: each public method (not ``_unguarded``) of every
    subclass is guarded (module docstring); ``_unwatched`` ones, bulk loads that may run
    long on purpose, are left out of the answer watchdog; ``_light`` ones, the reads of
    every login, take no bulkhead slot on a local file (:func:`_light_read`)."""

    engine: Engine
    _unguarded: ClassVar[frozenset[str]] = frozenset({"close"})
    _unwatched: ClassVar[frozenset[str]] = frozenset()
    _light: ClassVar[frozenset[str]] = frozenset()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name, value in list(vars(cls).items()):
            if _guardable(name, value) and name not in cls._unguarded:
                setattr(cls, name, cls._wrapped(name, value))

    @classmethod
    def _wrapped(cls, name: str, func: Callable[..., Any]) -> Callable[..., Any]:
        if name in cls._light:
            return _light_read(func)
        return _guarded(func, watched=name not in cls._unwatched)

    def _guard(self) -> EngineGuard:
        guard: EngineGuard | None = self.__dict__.get("_engine_guard")
        if guard is None:
            guard = self.__dict__["_engine_guard"] = guard_for(self.engine)
        return guard

    def _guard_instance_methods(self) -> None:
        """Guard the public callables set on the instance itself (not on its class)."""
        for name, value in list(vars(self).items()):
            if name.startswith("_") or not callable(value):
                continue
            if getattr(value, "__sso_guarded__", False):
                continue
            if name in self._light:
                setattr(self, name, _light_read(value, self))
            else:
                setattr(self, name, MethodType(self._wrapped(name, _unbound(value)), self))


def _guardable(name: str, value: object) -> bool:
    return (
        not name.startswith("_")
        and isinstance(value, FunctionType)
        and not getattr(value, "__sso_guarded__", False)
    )


def _unbound(func: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(func)
    def call(_self: object, *args: Any, **kwargs: Any) -> Any:
        return func(*args, **kwargs)

    return call

"""Errors are declared one way: what the generated error reference reads from them holds for all.

Every error has a unique code, a kind with an HTTP status, a title and a docstring, and is found
by `all_errors()` under the name it is bound to in its module.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from collections.abc import Iterator

import pytest

import api
import ledger
from api.errors import STATUS_OF_KIND
from ledger.domain.errors import Kind, LedgerError, all_errors

ERRORS = all_errors()


def _subclasses(error: type[LedgerError]) -> Iterator[type[LedgerError]]:
    for subclass in error.__subclasses__():
        yield subclass
        yield from _subclasses(subclass)


def test_every_error_has_a_unique_code_a_kind_with_a_status_a_title_and_a_docstring() -> None:
    codes = [error.code for error in ERRORS]
    assert len(ERRORS) > 90
    assert codes == sorted(set(codes))  # unique, and listed by code
    for error in ERRORS:
        assert error.kind in STATUS_OF_KIND, error
        assert error.title.strip(), error
        assert error.__doc__ is not None and error.__doc__.strip(), error


@pytest.mark.parametrize("error", ERRORS, ids=lambda error: error.code)
def test_the_runtime_name_is_the_name_the_error_is_bound_to(error: type[LedgerError]) -> None:
    assert error.__qualname__ == error.__name__
    assert getattr(sys.modules[error.__module__], error.__name__) is error


def test_all_errors_misses_none_declared_anywhere_in_the_ledger_or_the_api() -> None:
    # Modules that act when imported (run the command line, build the app) are not imported.
    acting = {"api.main", "ledger.entrypoints.__main__"}
    for package in (ledger, api):
        for module in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            if module.name not in acting:
                importlib.import_module(module.name)
    assert set(_subclasses(LedgerError)) == set(ERRORS)


def test_a_second_error_with_a_used_code_is_refused_when_declared() -> None:
    with pytest.raises(TypeError, match="period_closed"):

        class Again(LedgerError, code="period_closed", kind=Kind.CONFLICT, title="Closed"):
            """Declares a code that PeriodClosed holds."""


@pytest.mark.parametrize("title", ["", "  "])
def test_an_error_without_a_title_is_refused_when_declared(title: str) -> None:
    with pytest.raises(TypeError, match="title"):

        class Untitled(LedgerError, code="untitled_for_test", kind=Kind.INVALID, title=title):
            """Has no title."""


def test_an_error_without_a_docstring_is_refused_when_declared() -> None:
    with pytest.raises(TypeError, match="docstring"):

        class Undocumented(LedgerError, code="undocumented_for_test", kind=Kind.INVALID, title="X"):
            pass

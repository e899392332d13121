"""The search-space syntax: lists, ranges, fixed values, and one-line errors naming the key."""

from __future__ import annotations

from typing import Any

import pytest

from hyperplug.errors import ConfigError
from hyperplug.search_space import Choice, Fixed, Range, SearchSpace, parse_dimension


def test_specs_become_dimensions() -> None:
    where = "training_params.mlp.x"
    assert parse_dimension([1, 2], where) == Choice((1, 2))
    assert parse_dimension("relu", where) == Fixed("relu")
    assert parse_dimension(0.5, where) == Fixed(0.5)
    assert parse_dimension("loguniform(1e-4, 1e-1)", where) == Range("loguniform", 1e-4, 0.1)
    assert parse_dimension(" randint(2 ,8)", where) == Range("randint", 2, 8)
    assert parse_dimension("choice(relu, 'gelu', 3, true)", where) == Choice(
        ("relu", "gelu", 3, True)
    )


def test_choice_reads_literals_with_ast_never_splitting_inside_one() -> None:
    where = "training_params.mlp.x"
    assert parse_dimension("choice('a,b', c)", where) == Choice(("a,b", "c"))
    assert parse_dimension('choice("x)", -2, 1e-3, null)', where) == Choice(("x)", -2, 1e-3, None))
    assert parse_dimension("choice([64], [128, 64])", where) == Choice(([64], [128, 64]))
    assert parse_dimension("uniform(-1.5, 2)", where) == Range("uniform", -1.5, 2)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("logunifrm(1e-4, 1e-1)", "unknown distribution 'logunifrm' (did you mean 'loguniform'?)"),
        ("uniform(1, 1)", "empty or inverted range"),
        ("uniform(0.5, 0.1)", "empty or inverted range"),
        ("loguniform(0, 1)", "log range: it needs low > 0"),
        ("lograndint(-1, 8)", "log range: it needs low > 0"),
        ("randint(1.5, 8)", "needs integers"),
        ("uniform(a, 1)", "needs numbers"),
        ("uniform(1)", "takes 2 numbers, got 1"),
        ([], "is an empty grid"),
        ("choice()", "at least one value"),
        ("choice(a, __import__('os').getcwd())", "\"__import__('os').getcwd()\" is not a value"),
        ("choice(1 + 2)", "'1 + 2' is not a value (quote a string: '1 + 2')"),
        ("choice(a b)", "cannot read 'choice(a b)'"),
        ("choice(x=1)", "choice(...) takes values only"),
    ],
)
def test_bad_specs_name_the_key(spec: Any, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_dimension(spec, "training_params.mlp.lr")
    assert str(info.value).startswith("training_params.mlp.lr")
    assert message in str(info.value)


def test_grid_enumerates_each_trainer_separately_in_order() -> None:
    space = SearchSpace.parse(
        {"mlp": {"lr": [0.1, 0.01], "activation": "relu"}, "other": {"depth": [1, 2]}}
    )
    assert space.grid() == [
        ("mlp", {"lr": 0.1, "activation": "relu"}),
        ("mlp", {"lr": 0.01, "activation": "relu"}),
        ("other", {"depth": 1}),
        ("other", {"depth": 2}),
    ]
    assert space.contains("mlp", {"lr": 0.01, "activation": "relu"})
    assert not space.contains("mlp", {"lr": 0.5, "activation": "relu"})
    assert not space.contains("gone", {})


def test_grid_refuses_a_continuous_range() -> None:
    space = SearchSpace.parse({"mlp": {"lr": "uniform(0.001, 0.1)"}})
    assert not space.finite
    with pytest.raises(ConfigError, match=r"^training_params\.mlp\.lr: optimizer=grid"):
        space.grid()

"""Hydra's sweep grammar becomes a hyperplug SearchSpace; trial params become overrides."""

from __future__ import annotations

import pytest
from hydra.core.override_parser.overrides_parser import OverridesParser

from hyperplug.errors import ConfigError
from hyperplug.search_space import Choice, Range
from hyperplug.sweep.space import APP, encode, parse_space


def test_each_sweep_form_maps_to_a_dimension() -> None:
    parsed = parse_space(
        [
            "lr=tag(log, interval(1e-4, 1e-1))",
            "depth=range(2,6)",
            "act=choice(relu,gelu)",
            "drop=interval(0,0.5)",
            "width=tag(log, int(interval(8, 64)))",
            "step=range(1,10,3)",
            "layers=[64,32],[128]",
            "+extra=1,2",
            "epochs=3",
        ]
    )
    dims = parsed.space.trainers[APP]
    assert parsed.fixed == ["epochs=3"]
    assert dims["lr"] == Range("loguniform", 1e-4, 1e-1)
    assert dims["depth"] == Range("randint", 2, 5)
    assert dims["act"] == Choice(("relu", "gelu"))
    assert dims["drop"] == Range("uniform", 0, 0.5)
    assert dims["width"] == Range("lograndint", 8, 64)
    assert dims["step"] == Choice((1, 4, 7))
    assert dims["layers"] == Choice(([64, 32], [128]))
    assert dims["+extra"] == Choice((1, 2))


def test_a_later_override_of_a_key_wins() -> None:
    parsed = parse_space(["lr=interval(0.1, 1)", "lr=0.5", "depth=3", "depth=1,2"])
    assert parsed.keys == ["depth"] and parsed.fixed == ["lr=0.5"]


@pytest.mark.parametrize(
    ("argument", "message"),
    [
        ("lr=interval(1e-4", "malformed sweep expression 'lr=interval(1e-4'"),
        ("lr=tag(log, interval(0, 1))", "hydra.sweeper.params.lr: a log range must be above 0"),
        ("lr=interval(1, 0.5)", "hydra.sweeper.params.lr: interval(1.0, 0.5) is empty"),
        ("depth=range(5,2)", "hydra.sweeper.params.depth: range(5, 2) is empty"),
    ],
)
def test_bad_sweeps_are_named(argument: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_space([argument])


@pytest.mark.parametrize(
    "value", ["relu", "a b", "x,y", "it's", "null", 3, 0.001, True, None, [64, 32], {"a": 1}]
)
def test_encoded_values_parse_back_to_themselves(value: object) -> None:
    override = OverridesParser.create().parse_override(f"k={encode(value)}")
    assert not override.is_sweep_override()
    assert override.value() == value


def test_params_become_overrides() -> None:
    space = parse_space(["lr=interval(0.001,0.1)", "act=gelu,relu", "layers=[64,32],[8]", "e=2"])
    assert space.to_overrides({"lr": 0.01, "act": "it's", "layers": [64, 32]}) == [
        "lr=0.01",
        "act='it\\'s'",
        "layers=[64,32]",
        "e=2",
    ]


def test_a_params_entry_the_command_line_replaces_is_never_parsed() -> None:
    # a malformed expression (or a glob with no config loader) in hydra.sweeper.params
    # does not matter once the command line gives the key
    parsed = parse_space(["db=mysql", "lr=0.1,0.2"], {"db": "glob(*)", "lr": "interval(0.1"})
    assert parsed.fixed == ["db=mysql"] and parsed.keys == ["lr"]


def test_overrides_keep_the_order_keys_were_first_given() -> None:
    # as Hydra's basic sweeper: a command-line override takes the place of the params
    # entry it replaces; fixed and swept keys stay interleaved
    space = parse_space(["db=mysql", "db.user=choice(one,two)"], {"db": "glob(*)", "t": "5,10"})
    assert space.order == ("db", "t", "db.user")
    assert space.to_overrides({"t": 5, "db.user": "one"}) == ["db=mysql", "t=5", "db.user=one"]


def test_derived_values_add_keys_and_leave_out_inactive_ones() -> None:
    space = parse_space(["opt=sgd,adam", "momentum=interval(0, 0.9)", "e=2"])
    assert space.to_overrides({"opt": "adam", "+wd": 0.1}) == ["opt=adam", "e=2", "+wd=0.1"]


def test_discrete_sweeps_are_enumerable_for_a_grid() -> None:
    space = parse_space(["a=range(1,4)", "b=x,y", "c=tag(log, interval(1, 8))"])
    assert space.discrete == {"a", "b"} and not space.all_discrete
    assert parse_space(["a=range(1,4)", "b=x,y"]).all_discrete
    assert parse_space(["e=2"]).all_discrete  # nothing swept: one job, as Hydra runs it
    dims = space.enumerable().space.trainers[APP]
    assert dims["a"] == Choice((1, 2, 3)) and dims["c"] == Range("loguniform", 1, 8)


def test_glob_needs_the_apps_config_groups() -> None:
    with pytest.raises(ConfigError, match=r"hydra.sweeper.params.db: glob\(\) needs"):
        parse_space(["db=glob(*)"])

"""The dashboard's ``contract.ts`` spells the wire contract by hand (until it is generated from
the models' JSON Schema): these checks keep it equal to ``cryptopulse_common.contract`` so a
field, a label, a nullable value or a bound cannot drift between the two languages."""

from __future__ import annotations

import re
import types
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

from cryptopulse_common.contract import (
    LEGACY_UPDATE_MESSAGE,
    MARKET_UPDATE_MESSAGE,
    MAX_MAGNITUDE,
    MIN_CHANGE_PERCENT,
    SNAPSHOT_MESSAGE,
    Aggregate,
    TrendLabel,
    VolatilityLabel,
)

CONTRACT_TS = Path(__file__).resolve().parents[2] / "services/dashboard/src/contract.ts"
SOURCE = CONTRACT_TS.read_text()


def ts_constant(name: str) -> str:
    match = re.search(rf"export const {name} = (.+?);", SOURCE)
    assert match, f"contract.ts has no constant {name}"
    return match.group(1).strip()


def ts_interface_fields(name: str) -> dict[str, str]:
    body = re.search(rf"export interface {name} \{{(.*?)\n\}}", SOURCE, re.S)
    assert body, f"contract.ts has no interface {name}"
    return dict(re.findall(r"readonly (\w+): ([^;]+);", body.group(1)))


def nullable(annotation: Any) -> bool:
    if get_origin(annotation) is Annotated:
        return nullable(get_args(annotation)[0])
    return get_origin(annotation) in (Union, types.UnionType) and type(None) in get_args(annotation)


def test_the_aggregate_has_the_same_fields_and_nullability_in_both_languages() -> None:
    fields = ts_interface_fields("Aggregate")
    assert set(fields) == set(Aggregate.model_fields)
    for name, info in Aggregate.model_fields.items():
        assert fields[name].endswith("| null") == nullable(info.annotation), name


def test_labels_message_types_and_bounds_are_the_same() -> None:
    labels = re.findall(r"'([^']+)'", ts_constant("VOLATILITY_LABELS"))
    assert labels == list(get_args(VolatilityLabel))
    assert set(re.findall(r"'([^']+)'", ts_constant("TREND_LABELS"))) == set(get_args(TrendLabel))
    assert ts_constant("SNAPSHOT_MESSAGE") == repr(SNAPSHOT_MESSAGE)
    assert ts_constant("MARKET_UPDATE_MESSAGE") == repr(MARKET_UPDATE_MESSAGE)
    assert ts_constant("LEGACY_UPDATE_MESSAGE") == repr(LEGACY_UPDATE_MESSAGE)
    assert float(ts_constant("MAX_MAGNITUDE")) == MAX_MAGNITUDE
    assert float(ts_constant("MIN_CHANGE_PERCENT")) == MIN_CHANGE_PERCENT

"""Small PromQL builders: selectors scoped by placeholders, rates, quantiles.

Every expression cryptopulse ships names its metrics through
:mod:`cryptopulse_common.metric_catalog` and scopes them with placeholders that the consumer
replaces: Grafana's template variables in dashboards (``$namespace``, ``$instance``,
``$__rate_interval``), the chart in the PrometheusRule (``$namespace``, ``$release_pods``), a
test with its own labels (:func:`substitute`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from cryptopulse_common.metric_catalog import MetricSpec

NAMESPACE: Final = "$namespace"
INSTANCE: Final = "$instance"
# A regular expression matching the names of the release's pods (the chart fills it in).
RELEASE_PODS: Final = "$release_pods"
RATE_INTERVAL: Final = "$__rate_interval"
PLACEHOLDERS: Final = (NAMESPACE, INSTANCE, RELEASE_PODS, RATE_INTERVAL)


@dataclass(frozen=True)
class Regex:
    """A label value matched as a regular expression (``=~``, or ``!~`` when ``negate``)."""

    pattern: str
    negate: bool = False


@dataclass(frozen=True)
class Scope:
    """Which placeholders a selector is narrowed by: the namespace always, the instance in
    dashboards (``$instance`` is a multi-value variable, hence ``=~``)."""

    per_instance: bool

    def matchers(self) -> list[str]:
        found = [f'namespace="{NAMESPACE}"']
        if self.per_instance:
            found.append(f'instance=~"{INSTANCE}"')
        return found


PANEL: Final = Scope(per_instance=True)
RELEASE: Final = Scope(per_instance=False)


def sel(metric: MetricSpec | str, scope: Scope = PANEL, /, **labels: str | Regex) -> str:
    """``metric{namespace="$namespace", instance=~"$instance", label="value"}``."""
    matchers = scope.matchers()
    for name, value in labels.items():
        if isinstance(value, Regex):
            matchers.append(f'{name}{"!~" if value.negate else "=~"}"{value.pattern}"')
        else:
            matchers.append(f'{name}="{value}"')
    return f"{metric}{{{', '.join(matchers)}}}"


def rate(selector: str, window: str = RATE_INTERVAL) -> str:
    return f"rate({selector}[{window}])"


def by(labels: tuple[str, ...] | str, expr: str, op: str = "sum") -> str:
    names = (labels,) if isinstance(labels, str) else labels
    return f"{op} by ({', '.join(names)}) ({expr})"


def quantile(
    q: float,
    histogram: MetricSpec,
    scope: Scope = PANEL,
    window: str = RATE_INTERVAL,
    group: tuple[str, ...] = (),
    **labels: str | Regex,
) -> str:
    """``histogram_quantile(q, sum by (le, group...) (rate(<name>_bucket{...}[window])))``."""
    return (
        f"histogram_quantile({q:g}, "
        f"{by(('le', *group), rate(sel(histogram.bucket, scope, **labels), window))})"
    )


def mean(
    histogram: MetricSpec,
    scope: Scope = PANEL,
    window: str = RATE_INTERVAL,
    group: tuple[str, ...] = (),
) -> str:
    """Mean observation over the window: ``sum(rate(_sum)) / sum(rate(_count))``."""

    def total(series: str) -> str:
        rated = rate(sel(series, scope), window)
        return by(group, rated) if group else f"sum({rated})"

    return f"{total(histogram.sum)} / {total(histogram.count)}"


def substitute(text: str, values: Mapping[str, str]) -> str:
    """Replace the placeholders (``$namespace``...) in ``text``; longest names first, so
    ``$release_pods`` is never read as ``$release``. Unknown placeholders are left alone."""
    for name in sorted(values, key=len, reverse=True):
        if name not in PLACEHOLDERS:
            raise ValueError(f"{name} is not one of the placeholders {PLACEHOLDERS}")
        text = text.replace(name, values[name])
    return text

"""Paired comparisons of runs over the same seeds, and their summaries.

When two configurations are trained with the same seeds (same split, same
initial weights where the shapes agree, same batch order), the per-seed
difference of a metric removes much of the seed-to-seed spread. Its mean, its
Student-t confidence interval and the paired t-test (``scipy.stats.ttest_rel``)
tell whether a difference is resolved: an interval that excludes 0 resolves
it; one that contains 0 bounds how large it can be. :func:`summarize` gives
the median, minimum and maximum of each configuration over its seeds.

Example:

    >>> from linked_neurons.stats import paired_comparison
    >>> result = paired_comparison([0.90, 0.92, 0.95, 0.91, 0.93],
    ...                            [0.89, 0.90, 0.92, 0.91, 0.90])
    >>> round(result.mean, 4), round(result.low, 4), round(result.high, 4)
    (0.018, 0.0018, 0.0342)
    >>> result.verdict("LEAF", "tanh")
    'LEAF better'
"""

import dataclasses
import math

import numpy as np

__all__ = ["PairedComparison", "paired_comparison", "paired_table", "summarize"]


@dataclasses.dataclass(frozen=True)
class PairedComparison:
    """Summary of the per-seed differences ``a - b``.

    Attributes:
        n: Number of pairs.
        mean: Mean difference.
        std: Standard deviation of the differences (``ddof=1``).
        low: Lower end of the confidence interval of the mean difference.
        high: Upper end of that interval.
        confidence: Its level (e.g. 0.95).
        t: Paired t statistic (``nan`` when every difference is equal).
        p_value: Two-sided p-value of the paired t-test (``nan`` likewise).
    """

    n: int
    mean: float
    std: float
    low: float
    high: float
    confidence: float
    t: float
    p_value: float

    def verdict(self, name_a="a", name_b="b"):
        """``"<a> better"``, ``"<b> better"`` or ``"not resolved"`` (interval holds 0)."""
        if self.low > 0:
            return f"{name_a} better"
        if self.high < 0:
            return f"{name_b} better"
        return "not resolved"


def paired_comparison(a, b, confidence=0.95):
    """Mean of ``a - b`` over paired runs, with a Student-t confidence interval.

    Args:
        a, b: Sequences of the same length (at least 2): one value per seed,
            in the same seed order.
        confidence: Level of the interval, in (0, 1).

    Returns:
        A :class:`PairedComparison`.

    Raises:
        ValueError: For sequences of different or too short lengths, or a
            confidence outside (0, 1).
    """
    from scipy import stats

    a = np.asarray(a, dtype="float64").reshape(-1)
    b = np.asarray(b, dtype="float64").reshape(-1)
    if a.shape != b.shape or len(a) < 2:
        raise ValueError(
            f"paired_comparison: `a` and `b` need the same length, at least 2; got {len(a)} "
            f"and {len(b)}."
        )
    if not 0 < confidence < 1:
        raise ValueError(f"paired_comparison: `confidence` must be in (0, 1), got {confidence!r}.")
    diff = a - b
    n = len(diff)
    mean = float(diff.mean())
    std = float(diff.std(ddof=1))
    if std == 0.0:
        return PairedComparison(n, mean, 0.0, mean, mean, confidence, math.nan, math.nan)
    result = stats.ttest_rel(a, b)
    interval = result.confidence_interval(confidence)
    return PairedComparison(n, mean, std, float(interval.low), float(interval.high), confidence,
                            float(result.statistic), float(result.pvalue))


def paired_table(rows, baseline, metric, config_key="config", seed_key="seed", group_keys=(),
                 confidence=0.95):
    """Every configuration against ``baseline``, paired by seed, per group.

    Args:
        rows: Dicts, one per run, holding ``config_key``, ``seed_key``,
            ``metric`` and the ``group_keys``.
        baseline: Function ``group -> name`` of the baseline configuration
            of a group (``group`` is the tuple of the ``group_keys`` values),
            or one name for every group.
        metric: The compared value (e.g. ``"test_accuracy"``).
        config_key, seed_key: Keys of the configuration name and the seed.
        group_keys: Keys that split the rows into separate comparisons (e.g.
            ``("network", "init")``).
        confidence: Level of the intervals.

    Returns:
        One dict per group and non-baseline configuration, holding the
        group keys, ``"config"``, ``"baseline"``, ``"seeds"``,
        ``"config_mean"``, ``"baseline_mean"``, ``"mean_difference"``,
        ``"std_difference"``, ``"ci_low"``, ``"ci_high"``, ``"p_value"`` and
        ``"verdict"``. Only seeds present for both are paired.
    """
    groups = {}
    for row in rows:
        key = tuple(row[k] for k in group_keys)
        groups.setdefault(key, {}).setdefault(row[config_key], {})[row[seed_key]] = row[metric]
    table = []
    for key, by_config in groups.items():
        base_name = baseline(key) if callable(baseline) else baseline
        if base_name not in by_config:
            continue
        base = by_config[base_name]
        for name, values in by_config.items():
            if name == base_name:
                continue
            seeds = [s for s in values if s in base]
            if len(seeds) < 2:
                continue
            a = [values[s] for s in seeds]
            b = [base[s] for s in seeds]
            result = paired_comparison(a, b, confidence)
            table.append({
                **dict(zip(group_keys, key)), "config": name, "baseline": base_name,
                "seeds": len(seeds), "config_mean": float(np.mean(a)),
                "baseline_mean": float(np.mean(b)), "mean_difference": result.mean,
                "std_difference": result.std, "ci_low": result.low, "ci_high": result.high,
                "p_value": result.p_value, "verdict": result.verdict(name, base_name),
            })
    return table


def summarize(runs, values, keys=("variant", "label")):
    """Median, minimum and maximum of ``values`` over the rows that share ``keys``.

    Args:
        runs: A ``pandas.DataFrame`` (or list of dicts), one row per training.
        values: Numeric columns to summarise; each gives ``<v>`` (the median
            of its finite values), ``<v>_min`` and ``<v>_max``.
        keys: Columns that identify a configuration.

    Returns:
        A ``pandas.DataFrame``, one row per configuration in first-seen order,
        with ``runs`` (count) and the columns whose value all runs share.

    Example:

        >>> from linked_neurons.stats import summarize
        >>> rows = [{"label": "ReLU", "seed": s, "accuracy": a, "epochs": 5}
        ...         for s, a in enumerate([0.90, 0.94, 0.91])]
        >>> table = summarize(rows, ["accuracy"], keys=["label"])
        >>> list(table["label"]), list(table["accuracy"]), list(table["runs"])
        (['ReLU'], [0.91], [3])
        >>> list(table["accuracy_min"]), list(table["accuracy_max"]), list(table["epochs"])
        ([0.9], [0.94], [5])
    """
    import pandas as pd

    frame = pd.DataFrame(runs)
    keys = [k for k in keys if k in frame]
    values = [v for v in values if v in frame]
    finite = frame[values].apply(pd.to_numeric, errors="coerce").replace([np.inf, -np.inf],
                                                                         np.nan)
    groups = finite.groupby([frame[k] for k in keys], sort=False)
    table = groups.median()
    for suffix in ("min", "max"):
        table = table.join(groups.agg(suffix).add_suffix(f"_{suffix}"))
    for value in values:  # counts (epochs, parameters) stay integers where they can
        if pd.api.types.is_integer_dtype(frame[value]):
            for column in (value, f"{value}_min", f"{value}_max"):
                if (table[column] % 1 == 0).all():
                    table[column] = table[column].astype("int64")
    table["runs"] = groups.size()
    plain = [c for c in frame if c not in keys and c not in values
             and not frame[c].map(lambda v: isinstance(v, (list, tuple, dict))).any()]
    constant = frame.groupby(keys, sort=False)[plain].nunique(dropna=False)
    shared = [c for c in plain if (constant[c] == 1).all()]
    table = table.join(frame.groupby(keys, sort=False)[shared].first())
    return table.reset_index()

"""Is this window's error rate unusual for this hour of the week? (SPEC "Alerts", `anomaly`.)

The question is asked of a group's calls and errors in the rule's window and of the same
hour-of-week window in each of the last N weeks (`stats.baselines`, from the rollups). The
answer is honest at every volume:

1. **Outlier weeks are dropped.** A week whose rate is far from the median week (by more than
   `OUTLIER_Z` times the larger of its binomial noise and the weeks' robust spread, the MAD) is
   an incident or an outage, not the usual; at least half the weeks are always kept.
2. **The usual rate is a prior, not a point.** The kept weeks are pooled into a beta prior
   with a Jeffreys half count on each side: `Beta(errors + 0.5, calls - errors + 0.5)` when the
   weeks agree with each other as well as binomial noise allows. When they vary more than that
   (over-dispersion, estimated by Pearson's chi-square across the weeks), the prior is
   weakened to the strength the spread supports, so a courier whose usual rate wanders is not
   judged against a false certainty.
3. **The test is the beta-binomial upper tail** P(X >= errors | calls, prior): the chance of at
   least this many failures in this many calls if nothing had changed. With 20 calls, 3
   failures against a usual 5% is unremarkable (p ~ 0.1) and 10 failures is not (p < 1e-6);
   with 20,000 calls a rise from 5% to 5.75% already is (p < 1e-5): hence the margin.
4. **The margin** (`above_usual`): the rate must also be meaningfully above usual, both
   relatively (`rate >= usual * margin`, default 1.2: a fifth above usual) and absolutely
   (`rate - usual >= min_rise`, default half a percentage point). The relative part keeps a
   busy courier's statistically significant but operationally trivial wobble quiet (10% ->
   10.8%); the absolute part keeps a near-zero usual rate from turning every stray failure into
   an "infinite" rise (0.05% -> 0.3%). Both were chosen with the simulation in
   tests/alerts/test_anomaly_simulation.py: an error rate doubled for an hour enters a 60-minute
   window gradually (t minutes in, the window's rate is 1 + t/60 of usual), so a 1.5x margin
   could not be crossed before 30 minutes; 1.2x is crossed after about 12.

The rule's own parameters matter as much. Measured by the simulation (30 couriers, one week
evaluated every minute, 60-minute window, min_calls 50; firings with for_minutes 0/3/5/10):
threshold 0.001 -> 17/10/9/3 (the threshold is per evaluation, and a week has 30 x 10,080),
3e-4 -> 6/4/1/1, 1e-4 -> 1/1/1/0. The default anomaly rule should be threshold 1e-4 with
for_minutes 3: about once in two weeks on ordinary traffic (0 to 2 a week over ten seeds),
and a doubled hour of a courier at 2,000 calls/h failing 10% is found after a median of 18
minutes. A longer for_minutes buys little quiet (a chance burst stays in a sliding window for
its whole length) and costs detection time.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from statistics import median
from zoneinfo import ZoneInfo

from stats.baselines import Baseline, baselines, same_hour_windows
from stats.rates import fraction
from stats.window import Filters, Window

RELATIVE_MARGIN = 1.2  # rate >= usual x 1.2
ABSOLUTE_MARGIN = 0.005  # and rate - usual >= half a percentage point
OUTLIER_Z = 4.0  # a week this many noise widths from the median week is not "usual"
MIN_WEEKS = 3  # fewer usable weeks than this: no usual rate
MIN_HISTORY_CALLS = 30  # fewer calls than this in the usable weeks: no usual rate
MIN_PRIOR_STRENGTH = 10.0  # the weakest prior (in calls) an erratic history is given
_TAIL_EPSILON = 1e-10  # relative: far finer than any threshold a rule compares with


@dataclass(frozen=True)
class AnomalyResult:
    """One group's window against its usual rate for this hour of the week."""

    key: object  # the group's key as stats.questions.breakdown spells it; None for group_by none
    calls: int
    errors: int
    rate: float
    usual_rate: float | None  # None when history is too thin to judge
    usual_calls: int  # calls in the history windows used
    weeks_used: int
    probability: float  # P(>= errors | calls, usual); 1.0 with no usable history
    above_usual: bool  # rate meaningfully above usual (margin), with usable history
    summary: str


# ---------------------------------------------------------------- the pure core


@dataclass(frozen=True)
class Usual:
    """What the history says about this hour of the week: the pooled rate of the usual
    weeks and the strength of the beta prior built from them (`rate` None when too thin)."""

    rate: float | None
    strength: float
    calls: int
    weeks: int


def usual_from(history: Sequence[tuple[int, int]]) -> Usual:
    """The usual rate of `history`, the (calls, errors) of each past week: weeks without calls
    are not history, outlier weeks are dropped (`usual_weeks`), the rest pooled."""
    kept = usual_weeks(history)
    calls = sum(c for c, _ in kept)
    if len(kept) < MIN_WEEKS or calls < MIN_HISTORY_CALLS:
        return Usual(rate=None, strength=0.0, calls=calls, weeks=len(kept))
    rate = fraction(sum(e for _, e in kept), calls)
    return Usual(rate=rate, strength=prior_strength(kept, rate), calls=calls, weeks=len(kept))


def judge(
    calls: int,
    errors: int,
    usual: Usual,
    *,
    margin: float = RELATIVE_MARGIN,
    min_rise: float = ABSOLUTE_MARGIN,
    key: object = None,
    when: str = "",
) -> AnomalyResult:
    """`errors` of `calls` against `usual`: the tail probability, the margin and the words."""
    rate = fraction(errors, calls)
    if usual.rate is None:
        return AnomalyResult(
            key=key,
            calls=calls,
            errors=errors,
            rate=rate,
            usual_rate=None,
            usual_calls=usual.calls,
            weeks_used=usual.weeks,
            probability=1.0,
            above_usual=False,
            summary=_thin_summary(calls, errors, rate, when, usual.weeks, usual.calls),
        )
    alpha = usual.rate * usual.strength + 0.5
    beta = (1 - usual.rate) * usual.strength + 0.5
    return AnomalyResult(
        key=key,
        calls=calls,
        errors=errors,
        rate=rate,
        usual_rate=usual.rate,
        usual_calls=usual.calls,
        weeks_used=usual.weeks,
        probability=beta_binomial_sf(errors, calls, alpha, beta),
        above_usual=calls > 0 and rate >= usual.rate * margin and rate - usual.rate >= min_rise,
        summary=_summary(calls, errors, rate, usual.rate, when, usual.weeks, usual.calls),
    )


def assess(
    calls: int,
    errors: int,
    history: Sequence[tuple[int, int]],
    *,
    margin: float = RELATIVE_MARGIN,
    min_rise: float = ABSOLUTE_MARGIN,
    key: object = None,
    when: str = "",
) -> AnomalyResult:
    """Judge `errors` of `calls` against `history`, the (calls, errors) of each past week.

    `when` names the hour of the week in words for the summary ("Tuesdays 14:00–15:15 IST").
    The composition of `usual_from` and `judge`; a caller asking many windows against the same
    history (the simulation: the history changes only every quarter hour) may call them apart.
    """
    usual = usual_from(history)
    return judge(calls, errors, usual, margin=margin, min_rise=min_rise, key=key, when=when)


def usual_weeks(history: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """The weeks that show the usual rate: those with calls, less the outliers.

    A week is an outlier when its rate is more than OUTLIER_Z noise widths from the median
    week's, the width being the larger of the week's binomial noise (at the median rate, or
    one failure in the median week's calls when that rate is 0) and the weeks' robust spread
    (1.4826 x the median absolute deviation). With fewer than three weeks nothing can be
    called an outlier; at least half the weeks (the closest to the median) are always kept.
    """
    weeks = [(int(c), int(e)) for c, e in history if c > 0]
    if len(weeks) < 3:
        return weeks
    rates = [fraction(e, c) for c, e in weeks]
    middle = median(rates)
    spread = 1.4826 * median(abs(r - middle) for r in rates)
    floor_rate = max(middle, 1 / median(c for c, _ in weeks))

    variance = max(floor_rate * (1 - floor_rate), floor_rate / 2)  # p(1-p), never 0 at p=1
    distances = [
        abs(rate - middle) / max(math.sqrt(variance / c), spread)
        for (c, _), rate in zip(weeks, rates, strict=True)
    ]
    if max(distances) <= OUTLIER_Z:
        return weeks
    scored = sorted(zip(distances, weeks, strict=True))
    keep = max(math.ceil(len(weeks) / 2), sum(d <= OUTLIER_Z for d in distances))
    return [week for _, week in scored[:keep]]


def prior_strength(weeks: Sequence[tuple[int, int]], usual: float) -> float:
    """How many calls' worth of certainty the pooled weeks give about the usual rate.

    The pooled calls when the weeks agree within binomial noise; less when they vary more
    (Pearson's chi-square across the weeks gives the intra-class correlation rho of a
    beta-binomial, method of moments, and a beta prior of strength 1/rho - 1 has that spread).
    Never below MIN_PRIOR_STRENGTH.
    """
    pooled = float(sum(c for c, _ in weeks))
    if len(weeks) < 2 or not 0 < usual < 1:
        return max(pooled, MIN_PRIOR_STRENGTH)
    chi_square = sum((e - c * usual) ** 2 / (c * usual * (1 - usual)) for c, e in weeks)
    effective = pooled - sum(c * c for c, _ in weeks) / pooled
    excess = chi_square - (len(weeks) - 1)
    if excess <= 0 or effective <= 0:
        return pooled
    rho = excess / effective
    return max(min(pooled, 1 / rho - 1), MIN_PRIOR_STRENGTH)


def beta_binomial_sf(k: int, n: int, a: float, b: float) -> float:
    """P(X >= k) for X ~ BetaBinomial(n, a, b), summed term by term from log space.

    Above the mean the upper tail is summed upward from k (terms shrink fast past the mode);
    at or below it, 1 - P(X <= k - 1) is summed downward from k - 1. Each term follows from
    the previous by the pmf's ratio, so one lgamma evaluation starts each sum.
    """
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    if k > n * a / (a + b):
        return min(1.0, _sum_up(k, n, a, b))
    return max(0.0, 1.0 - _sum_down(k - 1, n, a, b))


def _log_pmf(x: int, n: int, a: float, b: float) -> float:
    lgamma = math.lgamma
    log_choose = lgamma(n + 1) - lgamma(x + 1) - lgamma(n - x + 1)
    log_beta_ratio = (
        lgamma(x + a)
        + lgamma(n - x + b)
        - lgamma(n + a + b)
        - lgamma(a)
        - lgamma(b)
        + lgamma(a + b)
    )
    return log_choose + log_beta_ratio


def _sum_up(k: int, n: int, a: float, b: float) -> float:
    term = math.exp(_log_pmf(k, n, a, b))
    total = term
    for x in range(k, n):
        term *= (n - x) * (x + a) / ((x + 1) * (n - x - 1 + b))
        total += term
        if term < total * _TAIL_EPSILON:
            break
    return total


def _sum_down(k: int, n: int, a: float, b: float) -> float:
    term = math.exp(_log_pmf(k, n, a, b))
    total = term
    for x in range(k, 0, -1):
        term *= x * (n - x + b) / ((n - x + 1) * (x - 1 + a))
        total += term
        if term < total * _TAIL_EPSILON:
            break
    return total


# ---------------------------------------------------------------- words


def _percent(rate: float) -> str:
    """15%, 3.1%, 0.25%: two significant figures, at most one decimal above 1%."""
    percent = rate * 100
    if percent == 0 or percent >= 10:
        return f"{percent:.0f}%"
    if percent >= 1:
        return f"{percent:.1f}%"
    return f"{percent:.2g}%"


def _failed(calls: int, errors: int, rate: float) -> str:
    return f"{errors:,} of {calls:,} calls failed ({_percent(rate)})"


def _weeks(count: int) -> str:
    return f"{count} week{'s' if count != 1 else ''}"


def _summary(
    calls: int, errors: int, rate: float, usual: float, when: str, weeks: int, usual_calls: int
) -> str:
    on = f" on {when}" if when else ""
    return (
        f"{_failed(calls, errors, rate)} vs the usual {_percent(usual)}{on} "
        f"({_weeks(weeks)}, {usual_calls:,} calls)"
    )


def _thin_summary(
    calls: int, errors: int, rate: float, when: str, weeks: int, usual_calls: int
) -> str:
    for_when = f" for {when}" if when else ""
    return (
        f"{_failed(calls, errors, rate)}; too little history to know the usual rate{for_when} "
        f"({_weeks(weeks)}, {usual_calls:,} calls)"
    )


def describe_window(window: Window) -> str:
    """The window's hour of the week in its zone: "Tuesdays 14:00–15:15 IST"."""
    start, end = window.start.astimezone(window.tz), window.end.astimezone(window.tz)
    return f"{start:%A}s {start:%H:%M}–{end:%H:%M} {start.tzname()}"


# ---------------------------------------------------------------- the database edge


def assess_anomalies(
    *,
    at: datetime,
    window_minutes: int,
    filters: Filters,
    group_by: str,
    tz: ZoneInfo,
    weeks: int = 8,
    margin: float = RELATIVE_MARGIN,
) -> list[AnomalyResult]:
    """Each group's window [at - window_minutes, at) (as whole quarter hours, see
    stats.baselines) against the same hour of the week over the last `weeks` weeks in `tz`.

    One result per group with calls in the window (always one, key None, for group_by none),
    the most improbable first. Raises ValueError when no rollup holds the filters and grouping.
    """
    windows = same_hour_windows(at=at, window_minutes=window_minutes, tz=tz, weeks=weeks)
    when = describe_window(windows[0])
    rows: list[Baseline] = baselines(
        at=at, window_minutes=window_minutes, filters=filters, group_by=group_by, tz=tz, weeks=weeks
    )
    results = [
        assess(row.calls, row.errors, row.history, margin=margin, key=row.key, when=when)
        for row in rows
    ]
    return sorted(results, key=lambda r: (r.probability, -r.errors, str(r.key)))

"""Prometheus metrics of one bot process (a registry of its own, so tests can run several).

Counters the process sees as it goes (updates, Navixy and Telegram calls, photo decodes)
are kept in memory; totals that must survive a restart (registrations by outcome,
watched devices by state) are read from SQLite at scrape time.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
_DECODE_BUCKETS = (0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0, 2.0, 5.0)


class _StoredTotals(Collector):
    """Registrations and watches as last read from the database (see `Metrics.store`)."""

    def __init__(self) -> None:
        self.registrations: Mapping[str, int] = {}
        self.watches: Mapping[str, int] = {}

    def collect(self) -> Iterator[Metric]:
        registrations = CounterMetricFamily(
            "installer_bot_registrations",
            "tracker/register attempts by outcome (from the journal)",
            labels=["outcome"],
        )
        for outcome, count in sorted(self.registrations.items()):
            registrations.add_metric([outcome], count)
        yield registrations
        watches = GaugeMetricFamily(
            "installer_bot_watched_devices", "Devices being watched, by state", labels=["state"]
        )
        for state, count in sorted(self.watches.items()):
            watches.add_metric([state], count)
        yield watches


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.updates = Counter(
            "installer_bot_updates",
            "Telegram updates handled, by kind",
            ["kind"],
            registry=self.registry,
        )
        self.navixy_calls = Counter(
            "installer_bot_navixy_calls",
            "Navixy API calls by method and result (ok, an error code, or unavailable)",
            ["method", "result"],
            registry=self.registry,
        )
        self.navixy_seconds = Histogram(
            "installer_bot_navixy_call_seconds",
            "Navixy API call latency",
            ["method"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.telegram_calls = Counter(
            "installer_bot_telegram_calls",
            "Bot API calls by method and HTTP status (or 'network')",
            ["method", "status"],
            registry=self.registry,
        )
        self.photo_seconds = Histogram(
            "installer_bot_photo_decode_seconds",
            "Time to read the IDs from one photo",
            buckets=_DECODE_BUCKETS,
            registry=self.registry,
        )
        self._telegram_children: dict[tuple[str, str], Counter] = {}
        self._update_children: dict[str, Counter] = {}
        self._stored = _StoredTotals()
        self.registry.register(self._stored)

    def observe_navixy(self, method: str, result: str, seconds: float) -> None:
        self.navixy_calls.labels(method, result).inc()
        self.navixy_seconds.labels(method).observe(seconds)

    def observe_telegram(self, method: str, status: str) -> None:
        # Every Bot API call passes here: the labelled child is looked up once, not per call.
        child = self._telegram_children.get((method, status))
        if child is None:
            child = self._telegram_children[method, status] = self.telegram_calls.labels(
                method, status
            )
        child.inc()

    def observe_update(self, kind: str) -> None:
        child = self._update_children.get(kind)
        if child is None:
            child = self._update_children[kind] = self.updates.labels(kind)
        child.inc()

    def store(
        self, registrations: Iterable[tuple[str, int]], watches: Iterable[tuple[str, int]]
    ) -> None:
        self._stored.registrations = dict(registrations)
        self._stored.watches = dict(watches)

    def render(self) -> bytes:
        return generate_latest(self.registry)

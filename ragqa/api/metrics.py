"""Prometheus metrics of one app (its own registry, so several apps in one process never clash)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from ragqa.answer import Answer
from ragqa.jobs import Job

LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class Metrics:
    """Requests, latency, answers, links removed and ingest jobs."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("ragqa_http_requests", "HTTP requests", ["route", "method", "status"],
                                registry=self.registry)
        self.latency = Histogram("ragqa_http_request_seconds", "HTTP request latency", ["route"],
                                 buckets=LATENCY_BUCKETS, registry=self.registry)
        self.answers = Counter("ragqa_answers", "Answers given", ["model", "answered"],
                               registry=self.registry)
        self.abstained = Counter("ragqa_answers_abstained", "Answers that were 'Hmm, I'm not sure.'",
                                 registry=self.registry)
        self.links_removed = Counter("ragqa_links_removed", "Links removed from model answers",
                                     registry=self.registry)
        self.answer_latency = Histogram("ragqa_answer_seconds", "Time to a complete answer",
                                        ["stage"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.jobs = Counter("ragqa_ingest_jobs", "Finished ingest jobs", ["state"], registry=self.registry)
        self.ingest_seconds = Histogram("ragqa_ingest_seconds", "Duration of successful ingests",
                                        buckets=(1, 5, 15, 60, 300, 900, 3600), registry=self.registry)
        self.embedded = Counter("ragqa_ingest_chunks_embedded", "Chunks embedded by ingest jobs",
                                registry=self.registry)

    def watch_feedback(self, counts: Callable[[], dict[str, int]]) -> None:
        """Export the stored 👍/👎 votes (read from the store at each scrape)."""
        self.registry.register(_FeedbackCollector(counts))

    def answered(self, answer: Answer) -> None:
        self.answers.labels(answer.model, str(answer.answered).lower()).inc()
        if not answer.answered:
            self.abstained.inc()
        self.links_removed.inc(len(answer.links_removed))
        for stage, ms in answer.timings_ms.items():
            self.answer_latency.labels(stage).observe(ms / 1000)

    def job_finished(self, job: Job) -> None:
        self.jobs.labels(job.state).inc()
        if job.summary is not None:
            self.ingest_seconds.observe(job.summary.seconds)
            self.embedded.inc(job.summary.embedded)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _FeedbackCollector(Collector):
    def __init__(self, counts: Callable[[], dict[str, int]]) -> None:
        self.counts = counts

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily("ragqa_feedback_votes", "Votes on Slack answers", labels=["vote"])
        try:
            counts = self.counts()
        except Exception:  # the store is down: /readyz says so; the scrape still works
            return
        for vote, count in sorted(counts.items()):
            family.add_metric([vote], count)
        yield family

"""The Answerer end to end, offline: real git, real embedded Chroma, the real local model."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from ragqa.answer import Answer, Answerer, BadQuestionError
from ragqa.chunking import split_lines
from ragqa.errors import AmbiguousProjectError, ProjectNotFoundError
from ragqa.ingest import Ingester, IngestRequest
from ragqa.retrieve import Filters
from ragqa.settings import Settings
from tests.conftest import SAMPLE_MD, SAMPLE_PY, GitRepo

WEB = "https://github.com/acme/sample"
LINK = re.compile(r"\]\((https://github\.com/acme/sample/blob/([0-9a-f]{40})/([^#)]+)#L(\d+)-L(\d+))\)")


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Settings, GitRepo]]:
    root = tmp_path_factory.mktemp("answer")
    repo = GitRepo(root / "sample")
    repo.write("src/sample/http.py", SAMPLE_PY).write("docs/guide.md", SAMPLE_MD)
    repo.write("README.md", "# Sample\n\nA sample HTTP helper library.\n")
    repo.commit("initial")
    settings = Settings(storage_dir=root / "storage", llm="none", _env_file=None)  # type: ignore[call-arg]
    Ingester(settings).ingest(IngestRequest(source=str(repo.root), web_url=WEB))
    yield settings, repo


def assert_links_open_real_lines(answer: Answer, repo: GitRepo) -> None:
    """Every link is pinned to the answer's commit and its line range exists in the file."""
    links = LINK.findall(answer.answer)
    assert links, answer.answer
    for _, commit, path, start, end in links:
        assert commit == answer.commit
        lines = split_lines(repo.show(commit, path))
        assert 1 <= int(start) <= int(end) <= len(lines)


def test_extractive_answer_and_its_contract(project: tuple[Settings, GitRepo]) -> None:
    settings, repo = project
    answer = Answerer(settings).ask("How do I retry a call with exponential backoff?")
    assert answer.answered and answer.model == "extractive" and answer.project == "sample"
    assert answer.commit == repo.git("rev-parse", "HEAD") and answer.links_removed == []
    assert [s.id for s in answer.sources] == [f"S{n}" for n in range(1, len(answer.sources) + 1)]
    assert answer.sources
    scores = [s.score for s in answer.sources]
    assert scores == sorted(scores, reverse=True) and 0 < scores[0] <= 1
    top = answer.sources[0]
    assert top.path in {"src/sample/http.py", "docs/guide.md"}
    assert top.url == f"{WEB}/blob/{answer.commit}/{top.path}#L{top.start_line}-L{top.end_line}"
    file_lines = split_lines(repo.show(answer.commit, "src/sample/http.py"))
    assert "```python\n" in answer.answer and "retry_with_backoff" in answer.answer
    quoted = answer.answer.split("```python\n", 1)[1].split("\n```", 1)[0]
    assert quoted in "\n".join(file_lines)
    assert "**References**" in answer.answer
    assert_links_open_real_lines(answer, repo)
    assert set(answer.timings_ms) == {"retrieve", "generate", "total"}


def test_neighbouring_chunks_are_merged_not_listed_twice(project: tuple[Settings, GitRepo]) -> None:
    settings, _ = project
    answer = Answerer(settings).ask("Session headers timeout request method url", top_k=8)
    spans = [(s.path, s.start_line, s.end_line) for s in answer.sources]
    for index, (path, start, end) in enumerate(spans):
        for other_path, other_start, other_end in spans[index + 1:]:
            if path == other_path:
                assert end < other_start - 1 or other_end < start - 1, spans


def test_unrelated_questions_get_the_agreed_abstention(project: tuple[Settings, GitRepo]) -> None:
    settings, _ = project
    answerer = Answerer(settings)
    for question in ("How do I configure a Kafka producer to wait for all in-sync replicas?",
                     "What does `torch.compile(mode='reduce-overhead')` change?"):
        answer = answerer.ask(question)
        assert answer.answer == "Hmm, I'm not sure." and not answer.answered, question


@pytest.mark.parametrize("in_memory", [True, False])
def test_filters_limit_paths_and_kinds(project: tuple[Settings, GitRepo], in_memory: bool) -> None:
    settings, _ = project
    if not in_memory:  # a project too big for memory is searched through Chroma's index
        settings = settings.model_copy(update={"memory_search_max_chunks": 0})
    answerer = Answerer(settings)
    assert (answerer.project(None).memory is not None) is in_memory
    docs = answerer.ask("connect timeout", filters=Filters(kind="docs"))
    assert docs.sources and all(s.kind != "code" for s in docs.sources)
    code = answerer.ask("connect timeout", filters=Filters(kind="code"))
    assert code.sources and all(s.kind == "code" for s in code.sources)
    under = answerer.ask("connect timeout", filters=Filters(path_prefix="src/"))
    assert under.sources and all(s.path.startswith("src/") for s in under.sources)


def test_bad_questions_and_unknown_projects(project: tuple[Settings, GitRepo]) -> None:
    settings, _ = project
    answerer = Answerer(settings)
    with pytest.raises(BadQuestionError, match="empty"):
        answerer.ask("   ")
    with pytest.raises(BadQuestionError, match="characters long"):
        answerer.ask("why? " * 13_000)  # 65,000 characters; the limit is 64,000
    with pytest.raises(ProjectNotFoundError, match="no project named 'nope'"):
        answerer.ask("timeouts?", project="nope")


def test_project_choice_with_several_projects(tmp_path: Path, repo: GitRepo) -> None:
    settings = Settings(storage_dir=tmp_path / "st", llm="none", _env_file=None)  # type: ignore[call-arg]
    with pytest.raises(ProjectNotFoundError, match="no projects yet"):
        Answerer(settings).ask("timeouts?")
    ingester = Ingester(settings)
    ingester.ingest(IngestRequest(source=str(repo.root)))
    ingester.ingest(IngestRequest(source=str(repo.root), name="other"))
    with pytest.raises(AmbiguousProjectError, match=r"indexed \(other, sample\): name one"):
        Answerer(settings).ask("timeouts?")
    assert Answerer(settings).ask("timeouts?", project="other").project == "other"
    chosen = settings.model_copy(update={"default_project": "other"})
    assert Answerer(chosen).ask("timeouts?").project == "other"


def test_keyword_index_follows_incremental_ingests(tmp_path: Path, repo: GitRepo) -> None:
    settings = Settings(storage_dir=tmp_path / "st", llm="none", project_check_s=0,
                        _env_file=None)  # type: ignore[call-arg]
    ingester = Ingester(settings)
    ingester.ingest(IngestRequest(source=str(repo.root), web_url=WEB))
    answerer = Answerer(settings)
    assert answerer.ask("zanzibar_quota").answered is False

    repo.write("src/sample/quota.py",
               'def zanzibar_quota(limit):\n    """Cap the quota."""\n    return limit\n')
    repo.git("rm", "-q", "docs/guide.md")
    repo.commit("quota, no guide")
    summary = ingester.ingest(IngestRequest(source=str(repo.root)))
    assert summary.embedded <= 2, "only the new file is embedded"
    answer = answerer.ask("What does zanzibar_quota do?")
    assert answer.answered and answer.sources[0].path == "src/sample/quota.py"
    assert answer.commit == summary.commit
    later = answerer.ask("retries backoff details", top_k=10)
    assert all(s.path != "docs/guide.md" for s in later.sources)
    lexical_files = list((settings.lexical_dir).rglob("*.npz"))
    assert len(lexical_files) == 2, "the current and the previous manifest's index only"

    shutil.rmtree(settings.lexical_dir)  # a replica without the file rebuilds it from the store
    fresh = Answerer(settings).ask("What does zanzibar_quota do?")
    assert fresh.sources[0].path == "src/sample/quota.py"
    assert list((settings.lexical_dir).rglob("*.npz"))


def test_links_without_a_web_url_are_path_only(tmp_path: Path) -> None:
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "guide.md").write_text(SAMPLE_MD)
    settings = Settings(storage_dir=tmp_path / "st", llm="none", _env_file=None)  # type: ignore[call-arg]
    Ingester(settings).ingest(IngestRequest(source=str(folder)))
    answer = Answerer(settings).ask("How does the backoff grow after a failed attempt?")
    assert answer.answered
    top = answer.sources[0]
    assert top.url == f"guide.md#L{top.start_line}-L{top.end_line}"
    assert f"({top.url})" in answer.answer

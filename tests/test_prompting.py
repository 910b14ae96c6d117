"""The QA prompt: every rule of the template, project values, packing within the window."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragqa.errors import ConfigError
from ragqa.index import FileEntry, ProjectRecord
from ragqa.prompting import ContextSource, count_tokens, pack, render_qa
from ragqa.settings import Settings

PROMPTS = Settings(_env_file=None).prompts_dir  # type: ignore[call-arg]
RULES = [
    "Provide a conversational answer with hyperlinks back to GitHub.",
    "You should only use hyperlinks that are explicitly listed in the context. "
    "Do NOT make up a hyperlink that is not listed.",
    "Include lots of code examples",
    "Assume the reader does not know anything about how the project is structured",
    "Do not reference the context in your answer.",
    'If you don\'t know the answer, just say "Hmm, I\'m not sure."',
    "politely inform them that you are tuned to only answer questions about sample",
    "at least 100 words and no more than 300 words",
    "Always include a list of reference links to GitHub from the context. "
    "Links should ONLY come from the context.",
]


def record(**changes: object) -> ProjectRecord:
    files = {"src/a.py": FileEntry(blob="1", language="python", kind="code", chunks=["x"]),
             "docs/a.md": FileEntry(blob="2", language="markdown", kind="docs", chunks=["y"])}
    values: dict[str, object] = dict(
        name="sample", source="/tmp/sample", source_kind="local_git", commit="abc",
        collection="c", embedder="e", fingerprint="f", web_url="https://github.com/acme/sample",
        files=files)
    values.update(changes)
    return ProjectRecord.model_validate(values)


def source(label: str, lines: int) -> ContextSource:
    return ContextSource(label, "src/a.py", 1, lines, f"https://github.com/acme/sample/blob/abc/src/a.py#L1-L{lines}",
                         "python", "f", "\n".join(f"value_{n} = compute({n})" for n in range(lines)))


def test_every_rule_and_value_is_in_the_prompt() -> None:
    prompt = render_qa(PROMPTS, record(audience="data engineer", instructions="Prefer Session examples."),
                       "How do timeouts work?", "[S1] src/a.py lines 1-2")
    for rule in RULES:
        assert rule in prompt, rule
    assert "called sample" in prompt and "code and docs" in prompt
    assert "located at https://github.com/acme/sample" in prompt
    assert "Assume the reader is a data engineer" in prompt
    assert "Prefer Session examples." in prompt
    assert "Question: How do timeouts work?" in prompt and "[S1] src/a.py" in prompt


def test_content_type_and_optional_instructions() -> None:
    docs_only = record(files={"a.md": FileEntry(blob="1", language="markdown", kind="docs", chunks=[])})
    prompt = render_qa(PROMPTS, docs_only, "q", "")
    assert "all the docs that makes up" in prompt and "additional instructions" not in prompt
    assert "Assume the reader is a developer" in prompt


def test_sources_are_packed_best_first_within_the_window() -> None:
    sources = [source("S1", 40), source("S2", 400), source("S3", 10)]
    prompt, packed = pack(PROMPTS, record(), "q?", sources, window=2_000, answer_tokens=500)
    assert [s.label for s in packed] == ["S1", "S3"], "S2 is too big; S3 still fits after it"
    assert count_tokens(prompt) <= 2_000 - 500
    assert "[S1] src/a.py lines 1-40" in prompt
    assert "Link: https://github.com/acme/sample/blob/abc/src/a.py#L1-L40" in prompt
    _, everything = pack(PROMPTS, record(), "q?", sources, window=32_000, answer_tokens=500)
    assert len(everything) == 3


def test_a_template_folder_of_ones_own(tmp_path: Path) -> None:
    (tmp_path / "qa.md.j2").write_text("Q={{ question }} P={{ project_name }}\n{{ context }}")
    assert render_qa(tmp_path, record(), "why?", "ctx") == "Q=why? P=sample\nctx\n"
    assert "Hmm, I'm not sure." in render_qa(tmp_path / "missing", record(), "q", ""), \
        "a template the folder lacks comes from the packaged ones"
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "qa.md.j2").write_text("{% if %}")
    with pytest.raises(ConfigError, match="line 1"):
        render_qa(broken, record(), "q", "")

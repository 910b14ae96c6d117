"""The checks door (`ragqa check FILE`, run in CI): a checks file is read safely (a regular file,
bounded size, UTF-8, YAML without aliases, anchors, tags or deep nesting) and each bad file is
one error naming it; checks run against the real `Answerer` with hostile expectations cost
linear time; the JUnit report is valid XML whatever the names hold."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from ragqa import checks
from ragqa.answer import Answer, Answerer
from ragqa.errors import RagqaError
from tests.conftest import run_cli
from tests.hostile.conftest import MEGABYTE, Indexed, cpu_budget, one_line

pytestmark = pytest.mark.slow
GOOD = "- question: How do I retry with exponential backoff?\n  cites: ['src/**']\n"
FILE_CASES = [
    pytest.param(b"a: &a [x]\nb: *a\n", "anchors", id="yaml-anchor-and-alias"),
    pytest.param(b"- question: *x\n", "aliases", id="yaml-alias-only"),
    pytest.param(b"- question: !!python/object:os.system echo\n", "not valid YAML", id="python-tag"),
    pytest.param(b"[" * 1000 + b"]" * 1000, "nested", id="nested-a-thousand-deep"),
    pytest.param(b"x" * (MEGABYTE + 1), "1,000,000 at most", id="one-byte-over-a-megabyte"),
    pytest.param(b"- question: caf\xe9\n", "not UTF-8", id="latin-1"),
    pytest.param(b"", "holds no checks", id="empty"),
    pytest.param(b"project: sample\n", "holds no checks", id="mapping-without-checks"),
    pytest.param(b"checks: 5\n", "holds no checks", id="checks-a-number"),
    pytest.param(b"- question: x\n  evil: true\n", "check 1", id="unknown-key"),
    pytest.param(b"- question: [a, b]\n", "check 1", id="question-a-list"),
    pytest.param(b"- question: x\n  answered: maybe\n", "check 1", id="answered-maybe"),
    pytest.param(b"- question: x\n  max_links_removed: -1\n", "check 1", id="negative-limit"),
    pytest.param(b"- question: x\n  cites: 5\n", "check 1", id="cites-a-number"),
    pytest.param(b"- name: only a name\n", "needs a `question`", id="no-question"),
    pytest.param(b"- question: '   '\n", "needs a `question`", id="blank-question"),
    pytest.param(b"- 5\n- question: x\n", "check 1", id="a-check-a-number"),
]


@pytest.mark.parametrize(("content", "fragment"), FILE_CASES)
def test_a_bad_checks_file_is_one_error_naming_it(tmp_path: Path, content: bytes, fragment: str) -> None:
    path = tmp_path / "checks.yaml"
    path.write_bytes(content)
    with pytest.raises(RagqaError) as refused:
        checks.load(path)
    message = one_line(str(refused.value))
    assert fragment in message and str(path) in message, message


def test_a_folder_and_a_device_are_refused(tmp_path: Path) -> None:
    with pytest.raises(RagqaError, match="is a directory, not a regular file"):
        checks.load(tmp_path)
    with pytest.raises(RagqaError, match="is a device"):
        checks.load(Path("/dev/zero"))


def test_a_megabyte_of_checks_loads_in_linear_time(tmp_path: Path) -> None:
    path = tmp_path / "checks.yaml"
    path.write_text(GOOD * (MEGABYTE // len(GOOD) - 1))
    with cpu_budget(8.0):
        loaded = checks.load(path)
    assert len(loaded) == MEGABYTE // len(GOOD) - 1


@pytest.fixture(scope="module")
def answerer(indexed: Indexed) -> Answerer:
    return Answerer(indexed.settings())


def ask_with(answerer: Answerer) -> checks.Asker:
    def ask(question: str, project: str | None) -> Answer:
        return answerer.ask(question, project)

    return ask


def test_hostile_expectations_are_judged_in_linear_time(answerer: Answerer) -> None:
    hostile = checks.Check(
        question="How do I retry with exponential backoff?",
        cites=["*a" * 5_000 + "b"],
        mentions=["x" * 1_000] * 1_000,
        max_links_removed=0,
    )
    with cpu_budget(3.0):
        [result] = checks.run([hostile], ask_with(answerer))
    assert not result.passed and len(result.reasons) == 2


def test_a_bad_project_in_a_check_fails_that_check_in_one_line(answerer: Answerer) -> None:
    results = checks.run(
        [
            checks.Check(question="retry?", project="../x"),
            checks.Check(question="How do I retry with exponential backoff?", answered=True),
        ],
        ask_with(answerer),
    )
    assert not results[0].passed and "is not a project name" in one_line("; ".join(results[0].reasons))
    assert results[1].passed


def test_the_junit_report_is_valid_xml_whatever_the_names_hold(answerer: Answerer) -> None:
    names = ["a\x00b", "\x1b[31mred", "]]><x/>", "\ud800", "\ufffe"]
    results = checks.run(
        [checks.Check(question=f"retry {name}?", name=name, answered=False) for name in names],
        ask_with(answerer),
    )
    document = ET.fromstring(checks.junit_xml(results, "hostile\x07suite").encode("utf-8"))
    cases = document.findall(".//testcase")
    assert len(cases) == len(names) and all(case.get("name") for case in cases)


def test_the_cli_refuses_a_bad_file_in_one_line(tmp_path: Path, cli_env: dict[str, str]) -> None:
    path = tmp_path / "checks.yaml"
    path.write_bytes(b"- question: x\n  evil: true\n")
    done = run_cli(cli_env, "check", str(path))
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert one_line(done.stderr.strip()).startswith("error:") and "check 1" in done.stderr

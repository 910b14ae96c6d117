"""A question read once: intent, code names, and what it is about."""

from __future__ import annotations

import pytest

from ragqa.query import Intent, Query


@pytest.mark.parametrize(("question", "intent"), [
    ("How do I set a timeout only for the connect phase?", Intent.USAGE),
    ("Can I stream a large body?", Intent.USAGE),
    ("Is there a way to retry failed requests?", Intent.USAGE),
    ("Where does the client follow redirects?", Intent.LOCATE),
    ("Which file defines the Session class?", Intent.LOCATE),
    ("In which module is `merge_setting` implemented?", Intent.LOCATE),
    ("What does `Response.raise_for_status` raise for a 404?", Intent.BEHAVIOUR),
    ("How does `Session.get_adapter` pick an adapter?", Intent.BEHAVIOUR),
    ("After a redirect, how is the body rewound?", Intent.BEHAVIOUR),
    ("Why is my POST turned into a GET?", Intent.EXPLAIN),
    ("timeouts", Intent.OTHER),
])
def test_intent_comes_from_the_question_form(question: str, intent: Intent) -> None:
    assert Query.parse(question).intent is intent


def test_code_names_and_capitalised_words() -> None:
    query = Query.parse("How does `HTTPAdapter.send` map urllib3 errors to ConnectTimeout? "
                        "Also `Session(http2=True)`, get_adapter, getAdapter and --verbose.")
    assert query.names == ("HTTPAdapter.send", "Session", "get_adapter", "getAdapter", "--verbose")
    assert "ConnectTimeout" in query.capitalised and "How" not in query.capitalised
    assert "httpadapter.send" in query.identifier_terms


def test_own_tests_are_told_apart_from_testing_with_the_project() -> None:
    assert not Query.parse("How do I write tests for my app without a real server?").about_tests
    assert Query.parse("Which tests cover the redirect logic?").about_tests
    assert Query.parse("Is there a test suite for the parser?").about_tests
    assert Query.parse("What changed in version 2.0?").about_changes


def test_vague_and_yes_no_questions() -> None:
    for vague in ("help", "how does it work?", "Tell me about the project", "hello!"):
        assert Query.parse(vague).vague, vague
    assert not Query.parse("how do retries work?").vague
    assert not Query.parse("`Session`?").vague
    assert Query.parse("Does it support HTTP/3 over QUIC?").yes_no
    assert "http3" in Query.parse("Does it support HTTP/3 over QUIC?").terms
    assert not Query.parse("How do I enable HTTP/2?").yes_no


def test_docs_are_demoted_for_a_traceback_or_a_locate_not_for_a_how_to_with_code() -> None:
    """A real user's how-to often carries their code; only a traceback (or `locate`, which
    asks where to change the code) says the answer is in the code rather than the docs."""
    from ragqa.retrieve.retriever import _docs_bias
    from ragqa.settings import Settings

    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    how_to = "How do I rotate the log file every day?\n\n```python\nlogger.add('app.log')\n```\n"
    traced = how_to + ('Traceback (most recent call last):\n  File "app.py", line 3, in <module>\n'
                       "    main()\nValueError: bad rotation\n")
    usage = settings.intent_docs_bias["usage"]
    assert Query.parse(how_to).report is not None
    assert _docs_bias(settings, Query.parse(how_to)) == usage
    assert _docs_bias(settings, Query.parse(traced)) == settings.report_demotion
    assert _docs_bias(settings, Query.parse(how_to, always_report=True)) == settings.report_demotion


def test_the_form_of_answer_a_question_asks_for() -> None:
    from ragqa.query import Form

    assert Query.parse("What does `timeout_keep_alive` do?").form is Form.WHAT
    assert Query.parse("Does uvicorn support Salesforce objects?").form is Form.YES_NO
    assert Query.parse("How do I enable HTTPS?").form is Form.HOW
    assert Query.parse("Where are redirects followed?").form is Form.WHERE
    assert Query.parse("What is the difference between a Session and a request?").form is Form.OTHER


def test_products_and_standards_named_in_prose() -> None:
    assert Query.parse("Does uvicorn support Salesforce objects?").proper_nouns == ("Salesforce",)
    assert Query.parse("Can it send SMS from Kubernetes?").proper_nouns == ("SMS", "Kubernetes")
    assert Query.parse("How do I return a UserProfile from `Config.load`?").proper_nouns == ()
    assert Query.parse("How do I enable HTTPS?").words == frozenset({"enable", "https"})


def test_a_question_about_upgrading_asks_for_the_migration_guide() -> None:
    """Migration guides rank like changelogs (they name every feature) unless asked about."""
    assert Query.parse("How do I upgrade from version 2 to 3?").about_changes
    assert Query.parse("Is there a migration guide for the new API?").about_changes
    assert not Query.parse("How do I validate a field?").about_changes

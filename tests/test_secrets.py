"""Secrets in repository text are redacted before anything is stored or shown."""

from __future__ import annotations

import json
from pathlib import Path

from ragqa.answer import Answerer
from ragqa.evaluation import altered_quotes, files_for
from ragqa.ingest import Ingester, IngestRequest
from ragqa.settings import Settings
from ragqa.sources.secrets import redact
from tests.conftest import SAMPLE_PY, GitRepo, run_cli

SECRETS = {
    "aws-access-key": "AKIAIOSFODNN7EXAMPLE",
    "aws-secret": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "github-token": "ghp_1234567890abcdefghijklmnopqrstuvwxyzAB",
    "stripe": "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
    "named token": "Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZmdo",
    "url password": "S3cr3tPassw0rd",
    "keyword": "hunter2-but-long-Sup3rS3cret",
    "slack": "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
    "key body": "MIIEpAIBAAKCAQEA75w1Pj8yFakeKeyMaterialLine1",
}
SETTINGS_PROD = f'''"""Production settings: the AWS credentials and tokens the deploy uses."""
import os

DEBUG = False
AWS_ACCESS_KEY_ID = "{SECRETS["aws-access-key"]}"
AWS_SECRET_ACCESS_KEY = "{SECRETS["aws-secret"]}"
GITHUB_TOKEN = "{SECRETS["github-token"]}"
STRIPE_KEY = "{SECRETS["stripe"]}"
SERVICE_TOKEN = "{SECRETS["named token"]}"
DATABASE_URL = "postgres://admin:{SECRETS["url password"]}@db.internal:5432/app"
password = "{SECRETS["keyword"]}"
SLACK_BOT = "{SECRETS["slack"]}"
REQUEST_ID = "123e4567-e89b-12d3-a456-426614174000"
BRAND_COLOUR = "#ff00aa"
RELEASE_SHA256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
DB_PASSWORD = os.environ["DB_PASSWORD"]
SIGNING_KEY = """-----BEGIN RSA PRIVATE KEY-----
{SECRETS["key body"]}
Q3S8N4Zr1hFakeKeyMaterialLine2
-----END RSA PRIVATE KEY-----"""
'''
DOCS = """# Connecting

Connect with a URL such as `postgresql://scott:tiger@localhost/test`, or pass
`password="secret"` to the engine.
"""


def test_secrets_are_replaced_line_for_line_and_ordinary_values_kept() -> None:
    redacted = redact("config/settings_prod.py", SETTINGS_PROD)
    assert redacted.text.count("\n") == SETTINGS_PROD.count("\n")
    for value in SECRETS.values():
        assert value not in redacted.text, value
    lines = redacted.text.split("\n")
    assert lines[4] == 'AWS_ACCESS_KEY_ID = "«redacted: aws-access-key»"'
    assert lines[6] == 'GITHUB_TOKEN = "«redacted: github-token»"'
    assert "postgres://admin:«redacted: basic-auth-credentials»@db.internal" in lines[9]
    for kept in ('REQUEST_ID = "123e4567-e89b-12d3-a456-426614174000"', 'BRAND_COLOUR = "#ff00aa"',
                 'DB_PASSWORD = os.environ["DB_PASSWORD"]', "-----END RSA PRIVATE KEY-----"):
        assert kept in redacted.text
    assert "RELEASE_SHA256 = \"9f86d0818" in redacted.text
    assert redacted.count == sum(redacted.kinds.values()) >= 9
    assert redact("docs/connecting.md", DOCS).text == DOCS, "placeholder credentials are examples"


PLACEHOLDERS = """# Configuration

```bash
SECRET_KEY="base64 encoded random bytes"
SECRET_KEY = "your-secret-key-here"
export OPENAI_API_KEY=sk-...
api_key = "YOUR_API_KEY"
password: "<the database password>"
token = "{{ slack_token }}"
```
"""


def test_placeholder_values_in_docs_are_kept_and_real_ones_are_not() -> None:
    assert redact("docs/configuration.md", PLACEHOLDERS).text == PLACEHOLDERS
    real = ('SECRET_KEY="Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZg"\npassword = "hunter2-but-long-Sup3rS3cret"\n'
            "export GITHUB_TOKEN=ghp_1234567890abcdefghijklmnopqrstuvwxyzAB  # your token\n")
    assert redact("docs/configuration.md", real).count == 3


def test_no_secret_reaches_the_store_or_an_answer(tmp_path: Path, cli_env: dict[str, str]) -> None:
    repo = GitRepo(tmp_path / "app")
    repo.write("config/settings_prod.py", SETTINGS_PROD).write("src/app/http.py", SAMPLE_PY)
    repo.write("docs/connecting.md", DOCS).commit("settings")
    done = run_cli(cli_env, "ingest", str(repo.root), "--json", "--web-url", "https://github.com/acme/app")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["redacted"] == {"config/settings_prod.py": summary["redacted"]["config/settings_prod.py"]}
    assert summary["redacted"]["config/settings_prod.py"] >= 9
    verbose = run_cli(cli_env, "ingest", str(repo.root), "-v", "--name", "app2")
    assert "redacted" in verbose.stderr and "config/settings_prod.py (aws-access-key ×2" in verbose.stderr
    assert not any(value in verbose.stderr + verbose.stdout for value in SECRETS.values())

    settings = Settings(storage_dir=Path(cli_env["RAGQA_STORAGE_DIR"]), llm="none",
                        _env_file=None)  # type: ignore[call-arg]
    answerer = Answerer(settings)
    answers = [answerer.ask(question, "app") for question in (
        "What AWS credentials and tokens are used in production?",
        "What is the database URL and password?", "Which private key signs releases?")]
    assert any("«redacted: aws-access-key»" in answer.answer for answer in answers)
    for answer in answers:
        assert not any(value in answer.answer for value in SECRETS.values())
        assert altered_quotes(answer, files_for(answerer.project("app").record, settings)) == []
    stored = [path for path in Path(cli_env["RAGQA_STORAGE_DIR"]).rglob("*") if path.is_file()]
    assert stored
    for path in stored:
        data = path.read_bytes()
        for value in SECRETS.values():
            assert value.encode() not in data, f"{value} found in {path}"


def test_redaction_can_be_turned_off_and_then_reindexes(tmp_path: Path, settings: Settings) -> None:
    repo = GitRepo(tmp_path / "app")
    repo.write("config/settings_prod.py", SETTINGS_PROD).commit("settings")
    plain = settings.model_copy(update={"redact_secrets": False})
    assert Ingester(plain).ingest(IngestRequest(source=str(repo.root))).redacted == {}
    summary = Ingester(settings).ingest(IngestRequest(source=str(repo.root)))
    assert summary.redacted["config/settings_prod.py"] >= 9 and summary.embedded >= 1

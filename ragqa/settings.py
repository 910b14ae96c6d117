"""The one place ragqa reads configuration from: `RAGQA_*` environment variables and `.env`."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """All knobs, with defaults that work offline on a fresh machine."""

    model_config = SettingsConfigDict(env_prefix="RAGQA_", env_file=".env", extra="ignore")

    storage_dir: Path = Field(Path("storage"), description="Clones, the embedded Chroma, locks.")
    chroma_url: str | None = Field(
        None, description="A Chroma server (http://host:port); unset means embedded Chroma."
    )

    embedder: str = Field("local", description="Embedding backend: 'local' or 'openai'.")
    embed_model: str | None = Field(
        None, description="Model name for the backend (local: a path; openai: a model id)."
    )
    embed_batch_size: int = Field(32, ge=1, le=2048)
    openai_api_key: SecretStr | None = Field(None, validation_alias="OPENAI_API_KEY")
    openai_base_url: str | None = Field(None, validation_alias="OPENAI_BASE_URL")

    max_file_bytes: int = Field(1_000_000, ge=1, description="Larger files are skipped.")
    chunk_max_lines: int = Field(60, ge=5, description="Longest chunk, in lines.")
    chunk_max_chars: int = Field(2_400, ge=200, description="Longest chunk, in characters.")

    git_token: SecretStr | None = Field(
        None, description="Token for private https repos; sent as a header, never stored."
    )
    git_username: str = Field("x-access-token", description="User name sent with git_token.")
    git_timeout_s: int = Field(600, ge=5, description="Longest a clone or fetch may take.")

    @property
    def repos_dir(self) -> Path:
        return self.storage_dir / "repos"

    @property
    def chroma_dir(self) -> Path:
        return self.storage_dir / "chroma"

    @property
    def locks_dir(self) -> Path:
        return self.storage_dir / "locks"

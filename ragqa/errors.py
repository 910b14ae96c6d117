"""Errors a user can act on.

Every adapter turns a `RagqaError` into one readable line (CLI) or a JSON error (HTTP);
anything else is a bug and is reported as such, still without a stack trace.
"""


class RagqaError(Exception):
    """A failure explained by its message alone; `code` is a stable machine-readable name."""

    code = "error"


class BadSourceError(RagqaError):
    """The source given to ingest is malformed, unsafe or unsupported."""

    code = "bad_source"


class SourceUnavailableError(RagqaError):
    """The source could not be reached, or has no such ref, or is empty."""

    code = "source_unavailable"


class ProjectNotFoundError(RagqaError):
    """No project of that name is registered."""

    code = "project_not_found"


class BusyError(RagqaError):
    """Another ingest of the same project holds its lock."""

    code = "busy"


class ConfigError(RagqaError):
    """Settings name a backend that is unknown or whose extra is not installed."""

    code = "config"


class BadRequestError(RagqaError):
    """A value in the request is malformed (a project name with a slash-dot-dot, a NUL …)."""

    code = "bad_request"


class DamagedProjectError(RagqaError):
    """A project's record or chunks are damaged: that project alone is unavailable."""

    code = "project_damaged"


class ModelError(RagqaError):
    """The embedding model could not be loaded or failed to embed."""

    code = "model_unavailable"


class AmbiguousProjectError(ProjectNotFoundError):
    """No project was named and several are indexed."""

    code = "project_required"

"""The prompt templates (Jinja2), packaged as `ragqa.prompts`; see README.md in this folder."""

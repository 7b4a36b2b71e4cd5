"""Local HTTP fakes of the Hugging Face Hub, GitHub and Slack APIs (see /work/shared/API-NOTES.md)."""

from .github import FakeGitHub
from .hub import HUB_EPOCH, FakeHub
from .server import FakeServer, Request, Response
from .slack import FakeSlack

__all__ = ["FakeHub", "FakeGitHub", "FakeSlack", "FakeServer", "Request", "Response", "HUB_EPOCH"]

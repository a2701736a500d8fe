"""The request filter typed after `/`: `provider:zai status:5xx model:sonnet`, plus free text."""

from __future__ import annotations

from dataclasses import dataclass

from ccm_tui.events import Failure
from ccm_tui.monitor import RequestView

STATUS_WORDS = ("ok", "error", "failover", "live", "2xx", "4xx", "5xx")
HELP = (
    "provider:NAME  status:ok|error|failover|live|2xx|4xx|5xx|NNN  model:TEXT  "
    "(words without a key match anywhere)"
)


@dataclass(frozen=True, slots=True)
class RequestFilter:
    provider: str = ""
    status: str = ""
    model: str = ""
    text: str = ""

    @classmethod
    def parse(cls, query: str) -> RequestFilter:
        fields = {"provider": "", "status": "", "model": "", "text": ""}
        words: list[str] = []
        for token in query.split():
            key, sep, value = token.partition(":")
            if not sep:
                words.append(token)
                continue
            key = key.lower()
            if key not in ("provider", "status", "model") or not value:
                raise ValueError(f"unknown filter {token!r}; try {HELP}")
            value = value.lower()
            if (
                key == "status"
                and value not in STATUS_WORDS
                and not (value.isdigit() and len(value) == 3)
            ):
                raise ValueError(f"status:{value} is not one of {', '.join(STATUS_WORDS)} or NNN")
            fields[key] = value
        fields["text"] = " ".join(words).lower()
        return cls(**fields)

    @property
    def active(self) -> bool:
        return bool(self.provider or self.status or self.model or self.text)

    def describe(self) -> str:
        parts = [f"{k}:{v}" for k, v in (("provider", self.provider), ("status", self.status),
                                         ("model", self.model)) if v]  # fmt: skip
        if self.text:
            parts.append(self.text)
        return " ".join(parts)

    def matches(self, request: RequestView) -> bool:
        if self.provider and not any(self.provider in a.provider.lower() for a in request.attempts):
            return False
        if self.model and not (
            self.model in request.requested_model.lower()
            or self.model in request.actual_model.lower()
            or self.model in request.routed_model.lower()
        ):
            return False
        if self.status and not _status_matches(self.status, request):
            return False
        if self.text:
            haystack = " ".join(
                (request.requested_model, request.actual_model, request.path,
                 request.error_message, *(a.provider for a in request.attempts))
            ).lower()  # fmt: skip
            return all(word in haystack for word in self.text.split())
        return True


def _status_matches(status: str, request: RequestView) -> bool:
    outcome = request.outcome
    if status == "ok":
        return outcome is Failure.OK
    if status == "error":
        return outcome is not None and outcome is not Failure.OK
    if status == "live":
        return outcome is None
    if status == "failover":
        return any(a.failure not in (None, Failure.OK) for a in request.attempts[:-1])
    code = request.status
    if code is None:
        return False
    if status.endswith("xx"):
        return str(code)[0] == status[0]
    return str(code) == status

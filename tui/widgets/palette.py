"""Command palette entries: "Switch policy to X" for every policy, in listing order."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from imgproc.core.policies import policy_specs


class PolicyCommands(Provider):
    """Offers a policy switch per policy; the app's ``switch_policy`` does the work."""

    def _commands(self) -> list[tuple[str, str, Callable[[], object]]]:
        switch = self.app.switch_policy  # type: ignore[attr-defined]
        return [(f"Switch policy to {spec.name}", f"{i}: {spec.summary}",
                 partial(switch, spec.name))
                for i, spec in enumerate(policy_specs(), start=1)]

    async def discover(self) -> Hits:
        for text, help_text, command in self._commands():
            yield DiscoveryHit(text, command, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for text, help_text, command in self._commands():
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(text), command, help=help_text)

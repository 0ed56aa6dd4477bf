"""A recording fake channel: tests talk to the bot as a person would and read its answers."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.core.types import Actor, Button, Incoming, Reply
from bot.dispatch.router import Dispatcher


@dataclass
class Chat:
    dispatcher: Dispatcher
    user_id: str
    channel: str = "console"
    workspace: str = ""
    locale_hint: str | None = None
    display_name: str | None = None
    private: bool = True
    transcript: list[tuple[str, list[Reply]]] = field(default_factory=list)

    @property
    def actor(self) -> Actor:
        return Actor(
            self.channel, self.user_id, self.workspace, self.display_name, self.locale_hint
        )

    @property
    def last(self) -> list[Reply]:
        return self.transcript[-1][1] if self.transcript else []

    @property
    def text(self) -> str:
        """Everything the bot said in answer to the last thing we did."""
        return "\n".join(r.text for r in self.last)

    @property
    def buttons(self) -> list[Button]:
        return [b for r in self.last for b in r.all_buttons()]

    async def say(self, text: str) -> str:
        incoming = Incoming(self.actor, self.user_id, text=text, private=self.private)
        self.transcript.append((text, await self.dispatcher.dispatch(incoming)))
        return self.text

    async def press(self, label: str) -> str:
        """Press the button whose label contains `label` among the last answer's buttons."""
        matches = [b for b in self.buttons if label in b.label]
        assert matches, f"no button {label!r} in {[b.label for b in self.buttons]}"
        return await self.press_button(matches[0])

    async def press_action(self, action: str, payload: str | None = None) -> str:
        """Press the shown button with this action (and payload), whatever its label."""
        matches = [b for b in self.buttons if b.action == action and payload in (None, b.payload)]
        assert matches, f"no button {action}:{payload} in {self.buttons}"
        return await self.press_button(matches[0])

    async def press_button(self, button: Button) -> str:
        incoming = Incoming(
            self.actor,
            self.user_id,
            action=button.action,
            payload=button.payload,
            private=self.private,
        )
        self.transcript.append((f"[{button.label}]", await self.dispatcher.dispatch(incoming)))
        return self.text

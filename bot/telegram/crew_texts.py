"""Messages of crew chats (/crew and the lines posted to a crew)."""

from __future__ import annotations

from bot.i18n import LANGUAGE_NAMES, Gettext
from bot.services.crews import Crew
from bot.telegram.texts import fmt
from bot.telegram.watch_texts import minutes_text


def crew_card(_: Gettext, crew: Crew, lead_name: str | None) -> str:
    if crew.group_id is None:
        group = _("asked at each registration")
    elif crew.group_id == 0:
        group = _("no group")
    else:
        group = crew.group_title or str(crew.group_id)
    language = (
        LANGUAGE_NAMES.get(crew.language, crew.language)
        if crew.language
        else _("each member's own")
    )
    return fmt(
        _,
        _(
            "<b>Crew chat</b> {title}\n"
            "Tracker group for devices registered here: {group}\n"
            "Language: {language}\n"
            "Lead: {lead}\n\n"
            "Each registration by a member is announced here, and again when the device "
            "is online or still silent. /crew lead, as a reply to a member's message, "
            "makes them the lead."
        ),
        title=crew.title,
        group=group,
        language=language,
        lead=lead_name or _("none"),
    )


def crew_only_in_groups(_: Gettext) -> str:
    return _("Send /crew in the crew's group chat, with me added to it.")


def crew_unlinked(_: Gettext) -> str:
    return _("This chat is no longer a crew chat.")


def pick_crew_group(_: Gettext) -> str:
    return _("Which tracker group for devices registered in this chat?")


def button_crew_group(_: Gettext) -> str:
    return _("📁 Tracker group")


def button_crew_language(_: Gettext) -> str:
    return _("🌐 Language")


def button_crew_unlink(_: Gettext) -> str:
    return _("Unlink this chat")


def button_crew_ask(_: Gettext) -> str:
    return _("Ask each time")


def button_crew_members_language(_: Gettext) -> str:
    return _("Each member's own")


def registered_line(_: Gettext, who: str, model: str, label: str, tracker_id: int) -> str:
    return fmt(
        _,
        _("📋 {who} registered {model} “{label}”: tracker {tracker_id}"),
        who=who,
        model=model,
        label=label,
        tracker_id=tracker_id,
    )


def online_line(_: Gettext, label: str, tracker_id: int) -> str:
    return fmt(
        _, _("🟢 “{label}” (tracker {tracker_id}) is online."), label=label, tracker_id=tracker_id
    )


def silent_line(_: Gettext, who: str, label: str, tracker_id: int, minutes: int) -> str:
    return fmt(
        _,
        _("⚠️ “{label}” (tracker {tracker_id}, by {who}) is still silent after {elapsed}."),
        label=label,
        tracker_id=tracker_id,
        who=who,
        elapsed=minutes_text(_, minutes),
    )

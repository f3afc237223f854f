"""Messages of access management and admin commands (see bot/telegram/admin.py)."""

from __future__ import annotations

from datetime import datetime

from bot.i18n import Gettext
from bot.storage.audit import Action, AuditEntry
from bot.telegram.texts import fmt, plain


def admin_only(_: Gettext) -> str:
    return _("Only admins can use this command.")


def invite_created(_: Gettext, link: str, uses: int, until: datetime) -> str:
    template = _.ngettext(
        "Invite link for {n} installer, valid until {until}:\n{link}\n"
        "Whoever opens it can register devices.",
        "Invite link for {n} installers, valid until {until}:\n{link}\n"
        "Whoever opens it can register devices.",
        uses,
    )
    return fmt(_, template, n=_.number(uses), until=_.datetime(until), link=link)


def invite_usage(_: Gettext) -> str:
    return _("Send /invite, or /invite 5 3 for a link that 5 people can use within 3 days.")


def joined(_: Gettext) -> str:
    return _("Welcome! You can register devices now: send /register.")


def invite_invalid(_: Gettext) -> str:
    return _("This invite link has expired or was used up. Ask your admin for a new one.")


def button_request_access(_: Gettext) -> str:
    return _("🙋 Request access")


def request_sent(_: Gettext) -> str:
    return _("Your request went to the admins. I will write here when they decide.")


def request_pending(_: Gettext) -> str:
    return _("Your request is waiting for an admin.")


def request_for_admins(_: Gettext, name: str, user_id: int) -> str:
    return fmt(
        _,
        _("{name} (id <code>{user_id}</code>) asks for access to register devices."),
        name=name,
        user_id=user_id,
    )


def button_approve(_: Gettext) -> str:
    return _("✅ Approve")


def button_reject(_: Gettext) -> str:
    return _("❌ Reject")


def request_approved_by(_: Gettext, text: str, admin: str) -> str:
    return text + "\n\n" + fmt(_, _("✅ Approved by {admin}."), admin=admin)


def request_rejected_by(_: Gettext, text: str, admin: str) -> str:
    return text + "\n\n" + fmt(_, _("❌ Rejected by {admin}."), admin=admin)


def request_decided_already(_: Gettext) -> str:
    return _("Already decided.")


def access_approved(_: Gettext) -> str:
    return _("An admin gave you access: send /register to register a device.")


def access_rejected(_: Gettext) -> str:
    return _("An admin declined your access request.")


def users_title(_: Gettext, n: int) -> str:
    return fmt(_, _.ngettext("{n} installer:", "{n} installers:", n), n=_.number(n))


def user_line(_: Gettext, name: str, user_id: int, seen: datetime | None) -> str:
    if seen is None:
        return fmt(
            _, _("{name} · <code>{user_id}</code> · never active"), name=name, user_id=user_id
        )
    return fmt(
        _,
        _("{name} · <code>{user_id}</code> · last active {when}"),
        name=name,
        user_id=user_id,
        when=_.datetime(seen),
    )


def revoke_usage(_: Gettext) -> str:
    return _("Send /revoke and the user id, e.g. /revoke 123456789 (see /users).")


def revoked(_: Gettext, name: str, user_id: int) -> str:
    return fmt(
        _,
        _("{name} (<code>{user_id}</code>) can no longer use the bot."),
        name=name,
        user_id=user_id,
    )


def revoke_nothing(_: Gettext, user_id: int) -> str:
    return fmt(
        _,
        _("<code>{user_id}</code> has no access to withdraw (admins from the settings stay)."),
        user_id=user_id,
    )


def revoked_notice(_: Gettext) -> str:
    return _(
        "An admin withdrew your access to this bot. Your open registration is cancelled; "
        "nothing was registered. Thank you for your work!"
    )


def promote_usage(_: Gettext) -> str:
    return _("Send /promote and the user id to make them an admin.")


def promoted(_: Gettext, user_id: int) -> str:
    return fmt(_, _("<code>{user_id}</code> is an admin now."), user_id=user_id)


def rate_limited(_: Gettext, limit: int) -> str:
    return fmt(
        _,
        _.ngettext(
            "You have registered {n} device in the last hour, the limit. "
            "Tap Register again later; the card stays here.",
            "You have registered {n} devices in the last hour, the limit. "
            "Tap Register again later; the card stays here.",
            limit,
        ),
        n=_.number(limit),
    )


def rate_limited_admins(_: Gettext, name: str, user_id: int, limit: int) -> str:
    return fmt(
        _,
        _.ngettext(
            "{name} (<code>{user_id}</code>) hit the limit of {n} registration an hour.",
            "{name} (<code>{user_id}</code>) hit the limit of {n} registrations an hour.",
            limit,
        ),
        name=name,
        user_id=user_id,
        n=_.number(limit),
    )


def audit_title(_: Gettext, n: int) -> str:
    return fmt(_, _.ngettext("{n} audit entry:", "{n} audit entries:", n), n=_.number(n))


def audit_empty(_: Gettext) -> str:
    return _("The audit log is empty.")


def action_name(_: Gettext, action: Action) -> str:
    names = {
        Action.SEEDED: _("from the settings"),
        Action.GRANTED: _("made admin"),
        Action.INVITE_CREATED: _("invite created"),
        Action.JOINED: _("joined by invite"),
        Action.REQUESTED: _("asked for access"),
        Action.APPROVED: _("approved"),
        Action.REJECTED: _("rejected"),
        Action.REVOKED: _("access withdrawn"),
        Action.REGISTERED: _("registered a device"),
        Action.RATE_LIMITED: _("hit the hourly limit"),
        Action.CREW_LINKED: _("linked a crew chat"),
    }
    return names[action]


def audit_line(_: Gettext, entry: AuditEntry) -> str:
    who = "—" if entry.actor_id is None else str(entry.actor_id)
    whom = "" if entry.subject_id is None else str(entry.subject_id)
    return fmt(
        _,
        _("{when} · {actor}: {action} {subject} {detail}"),
        when=_.datetime(entry.at),
        actor=who,
        action=action_name(_, entry.action),
        subject=whom,
        detail=entry.detail,
    ).rstrip()


def button_older(_: Gettext) -> str:
    return plain(_, _("Older ›"))


def button_newer(_: Gettext) -> str:
    return plain(_, _("‹ Newer"))

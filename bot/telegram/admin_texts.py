"""Messages of access management and admin commands (see bot/telegram/admin.py)."""

from __future__ import annotations

from datetime import datetime

from bot.domain.attempts import Attempt, AttemptStatus
from bot.i18n import Gettext
from bot.services.access import Action, AuditEntry
from bot.services.reports import Found, Period, Stats, Status
from bot.telegram import watch_texts as wt
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


# --- reports: /status, /recent, /find, /stats, /export ------------------------------------


def duration(_: Gettext, seconds: float) -> str:
    minutes = max(0, int(seconds // 60))
    if minutes < 60:
        return wt.minutes_text(_, minutes)
    return _("{hours} {minutes}").format(
        hours=wt.hours_text(_, minutes // 60), minutes=wt.minutes_text(_, minutes % 60)
    )


def status(_: Gettext, s: Status) -> str:
    lines = [
        _("<b>Status</b>"),
        fmt(_, _("Version: {version}"), version=s.version),
        fmt(_, _("Running for: {elapsed}"), elapsed=duration(_, s.uptime)),
    ]
    if s.navixy_ms is not None:
        lines.append(
            fmt(
                _,
                _("Navixy: answers in {ms} ms, account {account}"),
                ms=_.number(round(s.navixy_ms)),
                account=s.account or "?",
            )
        )
    elif s.navixy_error:
        lines.append(fmt(_, _("Navixy: answers with error {code}"), code=s.navixy_error))
    else:
        lines.append(_("Navixy: not reachable"))
    if s.models_age is None:
        lines.append(_("Models cached: none yet"))
    else:
        lines.append(
            fmt(
                _,
                _("Models cached: {count}, fetched {age} ago"),
                count=_.number(s.models),
                age=duration(_, s.models_age),
            )
        )
    lines += [
        fmt(_, _("Database: {size} MB"), size=_.decimal(s.database_bytes / 1_000_000, 1)),
        fmt(_, _("Devices waiting for their first connection: {count}"), count=_.number(s.waiting)),
        fmt(
            _,
            _("Registration errors in the last hour: {count}"),
            count=_.number(s.errors_last_hour),
        ),
    ]
    return "\n".join(lines)


def attempt_line(_: Gettext, a: Attempt) -> str:
    outcome = {
        AttemptStatus.SUCCESS: f"✅ {a.tracker_id}",
        AttemptStatus.FAILED: f"❌ {a.error_code}",
        AttemptStatus.SENDING: "⏳",
        AttemptStatus.UNKNOWN: "❓",
    }[a.status]
    return fmt(
        _,
        "{when} · {label} · {model} · {who} · {outcome}",
        when=_.datetime(a.created_at),
        label=a.label,
        model=a.model,
        who=a.user_name or a.user_id,
        outcome=outcome,
    )


def recent_title(_: Gettext) -> str:
    return _("<b>Latest registrations</b>")


def recent_empty(_: Gettext) -> str:
    return _("No registrations yet.")


def find_usage(_: Gettext) -> str:
    return _("Send /find and an IMEI, a label or a tracker ID.")


def find_nothing(_: Gettext, query: str) -> str:
    return fmt(_, _("Nothing in the journal for {query}."), query=query)


def found(_: Gettext, items: list[Found], navixy_answered: bool) -> str:
    blocks = []
    for item in items:
        lines = [attempt_line(_, item.attempt)]
        if item.state is not None:
            lines += wt.state_lines(_, item.state)
        elif item.attempt.tracker_id is not None and navixy_answered:
            lines.append(_("Navixy has no current state for this tracker."))
        blocks.append("\n".join(lines))
    if not navixy_answered:
        blocks.append(_("Navixy did not answer: its current view is not shown."))
    return "\n\n".join(blocks)


def period_usage(_: Gettext, command: str) -> str:
    return fmt(_, _("Send {command} day, week or month."), command=command)


def stats(_: Gettext, s: Stats) -> str:
    titles = {
        Period.DAY: _("<b>Registrations in the last 24 hours</b>"),
        Period.WEEK: _("<b>Registrations in the last 7 days</b>"),
        Period.MONTH: _("<b>Registrations in the last 30 days</b>"),
    }
    lines = [titles[s.period]]
    if s.total == 0:
        lines.append(_("None."))
        return "\n".join(lines)
    rate = s.success_rate or 0.0
    lines.append(
        fmt(
            _,
            _("Started: {total} · registered: {ok} ({rate} %)"),
            total=_.number(s.total),
            ok=_.number(s.succeeded),
            rate=_.number(round(rate * 100)),
        )
    )
    if s.median_connect is None:
        lines.append(_("Median time to the first connection: no data yet"))
    else:
        lines.append(
            fmt(
                _,
                _("Median time to the first connection: {elapsed}"),
                elapsed=duration(_, s.median_connect),
            )
        )
    lines.append("")
    lines.append(_("Per day:"))
    lines += [fmt(_, "{day}: {count}", day=d.isoformat(), count=_.number(n)) for d, n in s.per_day]
    lines.append(_("Per installer:"))
    lines += [fmt(_, "{who}: {count}", who=w, count=_.number(n)) for w, n in s.per_installer]
    if s.top_errors:
        lines.append(_("Most common errors:"))
        lines += [
            fmt(_, "{code} {text}: {count}", code=c, text=t, count=_.number(n))
            for c, t, n in s.top_errors
        ]
    return "\n".join(lines)


def export_caption(_: Gettext, n: int) -> str:
    return fmt(
        _,
        _.ngettext(
            "The journal: {n} registration attempt.",
            "The journal: {n} registration attempts.",
            n,
        ),
        n=_.number(n),
    )

"""Every sentence of the device watch (status message, options, checks), through gettext.

Same pattern as bot/telegram/texts.py: functions take the installer's `_` and plain
values and return ready-to-send HTML; values are escaped here. Kept short for a phone.
"""

from __future__ import annotations

from html import escape

from bot.domain.navixy_outcomes import RetryOutcome
from bot.domain.watch import (
    Check,
    CheckResult,
    Connection,
    Phase,
    StateSummary,
    Watch,
    WatchPolicy,
    progress,
    progress_bar,
    shown_elapsed,
    whole_minutes,
)
from bot.i18n import Gettext
from bot.navixy.models import DeviceModel
from bot.telegram.texts import fmt

_fmt = fmt


def _age(_: Gettext, seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 60:
        return _("just now")
    if seconds < 3600:
        n = int(seconds // 60)
        return _.ngettext("{n} minute ago", "{n} minutes ago", n).format(n=_.number(n))
    n = int(seconds // 3600)
    return _.ngettext("{n} hour ago", "{n} hours ago", n).format(n=_.number(n))


def minutes_text(_: Gettext, n: int) -> str:
    """`5 min` with the plural form the language needs (`5 мин`, `21 دقيقة`)."""
    return _.ngettext("{n} min", "{n} min", n).format(n=_.number(n))


def hours_text(_: Gettext, n: int) -> str:
    return _.ngettext("{n} h", "{n} h", n).format(n=_.number(n))


def _minutes(_: Gettext, seconds: float) -> str:
    minutes = whole_minutes(seconds)
    if minutes < 60:
        return minutes_text(_, minutes)
    # TRANSLATORS: a duration: hours, then minutes ("1 h 5 min").
    return _("{hours} {minutes}").format(
        hours=hours_text(_, minutes // 60), minutes=minutes_text(_, minutes % 60)
    )


def _distance(_: Gettext, metres: float) -> str:
    if metres < 1000:
        return _("{n} m").format(n=_.number(round(metres)))
    return _("{n} km").format(n=_.decimal(metres / 1000, 1))


# --- the status message ---------------------------------------------------------------------


def heading(_: Gettext, watch: Watch) -> str:
    return _fmt(
        _,
        _("📡 <b>{label}</b> · tracker {tracker_id}\n{model}"),
        label=watch.label,
        tracker_id=watch.tracker_id,
        model=watch.title,
    )


def connection(_: Gettext, value: Connection) -> str:
    names = {
        Connection.WAITING: _("⏳ Not connected yet (just registered)"),
        Connection.REPLACED: _("⏳ Not connected yet (just replaced)"),
        Connection.ACTIVE: _("🟢 Online"),
        Connection.IDLE: _("🟡 Connected, no fresh GPS fix"),
        Connection.OFFLINE: _("🔴 Offline"),
        Connection.SIGNAL_LOST: _("🔴 Signal lost"),
        Connection.UNKNOWN: _("❔ Unknown status"),
    }
    return names[value]


def not_reported(_: Gettext) -> str:
    return _("not reported")


def state_lines(_: Gettext, s: StateSummary) -> list[str]:
    lines = [connection(_, s.connection)]
    if s.has_fix:
        gps = _("📍 GPS fix: {age}").format(age=_age(_, s.fix_age) or _("yes"))
        if s.cell_position:
            gps += " " + _("(from cell towers)")
    else:
        gps = _("📍 GPS fix: none yet")
    lines.append(gps)
    if s.gsm_level is None:
        lines.append(_("📶 GSM: {value}").format(value=not_reported(_)))
    else:
        gsm = _("📶 GSM: {level} %").format(level=_.number(s.gsm_level))
        if s.roaming:
            gsm += " · " + _("roaming")
        lines.append(gsm)
    if s.board_voltage is not None:
        lines.append(_("🔌 Board voltage: {v} V").format(v=_.decimal(s.board_voltage, 1)))
    if s.battery_level is not None:
        lines.append(_("🔋 Battery: {n} %").format(n=_.number(s.battery_level)))
    if s.ignition is not None:
        lines.append(_("🔑 Ignition: on") if s.ignition else _("🔑 Ignition: off"))
    return [escape(line) for line in lines]


def check_name(_: Gettext, check: Check) -> str:
    names = {
        Check.IGNITION_ON: _("Ignition on"),
        Check.IGNITION_OFF: _("Ignition off"),
        Check.GSM: _("GSM signal"),
        Check.ROAMING: _("Not roaming"),
        Check.VOLTAGE: _("Board voltage"),
    }
    return names[check]


def check_line(_: Gettext, check: Check, result: CheckResult) -> str:
    marks = {
        CheckResult.PENDING: "▫️",
        CheckResult.RUNNING: "⏳",
        CheckResult.PASSED: "✅",
        CheckResult.FAILED: "❌",
        CheckResult.NOT_REPORTED: "➖",
    }
    line = f"{marks[result]} {check_name(_, check)}"
    if result is CheckResult.NOT_REPORTED:
        line += ": " + _("not reported by this model")
    elif result is CheckResult.FAILED:
        line += ": " + _("failed")
    return escape(line)


def guided_prompt(_: Gettext, check: Check) -> str:
    if check is Check.IGNITION_ON:
        return _("👉 <b>Turn the ignition ON now.</b> I'm watching for the device to report it.")
    return _("👉 <b>Turn the ignition OFF now.</b> I'm watching for the device to report it.")


def distance_line(_: Gettext, metres: float, near: bool) -> str:
    mark = "✅" if near else "⚠️"
    return mark + " " + escape(_("Distance to you: {d}").format(d=_distance(_, metres)))


def waiting_lines(_: Gettext, watch: Watch, policy: WatchPolicy, now: float) -> list[str]:
    # The time moves in marks (1, 2, 5, 10, 15, 30 min...): a status message is edited for
    # the time only when a person would notice.
    real = now - watch.started_at
    elapsed = shown_elapsed(real)
    p = progress(policy, elapsed)
    lines = []
    if real >= policy.activation:
        lines.append(_fmt(_, _("⚠️ No connection after {elapsed}."), elapsed=_minutes(_, elapsed)))
    else:
        lines.append(
            _fmt(
                _,
                _("⏳ Waiting for the first connection: {elapsed}"),
                elapsed=_minutes(_, elapsed),
            )
        )
        lines.append(
            progress_bar(p)
            + " "
            + _fmt(
                _,
                _.ngettext(
                    "usually within {n} minute",
                    "usually within {n} minutes",
                    whole_minutes(policy.activation),
                ),
                n=_.number(whole_minutes(policy.activation)),
            )
        )
    return lines


def retry_note(_: Gettext, watch: Watch) -> str | None:
    if watch.last_retry_result is None:
        return None
    try:
        outcome = RetryOutcome(watch.last_retry_result)
    except ValueError:
        return None
    head = retries_text(_, watch.retries) if watch.retries else _("🔁 Activation retry:")
    if outcome is RetryOutcome.SENT:
        return escape(head)
    return escape(head + " " + retry_short(_, outcome))


def retries_text(_: Gettext, n: int) -> str:
    return _.ngettext(
        "🔁 Activation re-sent {n} time.", "🔁 Activation re-sent {n} times.", n
    ).format(n=_.number(n))


def retry_short(_: Gettext, outcome: RetryOutcome) -> str:
    names = {
        RetryOutcome.SENT: _("sent"),
        RetryOutcome.ALREADY_CONNECTED: _("already connected"),
        RetryOutcome.NOT_PERMITTED: _("not permitted"),
        RetryOutcome.NOT_FOUND: _("tracker not found"),
        RetryOutcome.BLOCKED: _("tracker blocked"),
        RetryOutcome.NO_GSM: _("no SIM commands for this model"),
        RetryOutcome.CLONE: _("tracker is a clone"),
        RetryOutcome.TOO_SOON: _("too soon"),
        RetryOutcome.BUSY: _("Navixy busy"),
        RetryOutcome.UNAVAILABLE: _("no answer"),
        RetryOutcome.OTHER: _("refused"),
    }
    return names[outcome]


def ended_line(_: Gettext, phase: Phase) -> str:
    lines = {
        Phase.DONE: _("🏁 Finished watching this device."),
        Phase.DISMISSED: _("Stopped watching. /pending lists devices not online yet."),
        Phase.EXPIRED: _("⏹ Stopped watching: no connection within the maximum time."),
        Phase.GONE: _("⏹ Stopped watching: the tracker is deleted or blocked in Navixy."),
    }
    return lines.get(phase, "")


def manual_config(
    _: Gettext, model: DeviceModel | None, server: str | None, *, commands_disabled: bool
) -> str:
    """Server and port for a device the platform does not configure itself."""
    if commands_disabled:
        head = _("⚙️ This account sends no setup commands: configure the device by hand.")
    else:
        head = _("⚙️ This model is not configured automatically: set it up by hand.")
    lines = [escape(head)]
    port = model.port if model is not None else None
    if server and port:
        lines.append(
            _fmt(
                _,
                _("Server: <code>{server}</code> · port <code>{port}</code>"),
                server=server,
                port=port,
            )
        )
    elif server:
        lines.append(_fmt(_, _("Server: <code>{server}</code>"), server=server))
    for conn in model.connection if model is not None else []:
        if conn.url:
            kind = " ".join(p for p in (conn.protocol, conn.transport) if p)
            lines.append(_.mark + _fmt(_, "{kind}: <code>{url}</code>", kind=kind, url=conn.url))
    if not (server and port) and not (model and model.connection):
        lines.append(escape(_("Ask your admin for the server address and port.")))
    return "\n".join(lines)


# --- messages around the status -------------------------------------------------------------


def online_card(_: Gettext, watch: Watch, *, can_request_location: bool) -> str:
    text = _fmt(
        _,
        _("✅ <b>{label}</b> is installed and online. Its position is on the map above."),
        label=watch.label,
    )
    if can_request_location:
        text += "\n" + escape(
            _("Tap “Share my location” below: I'll check that the device is where you are.")
        )
    return text


def share_location_button(_: Gettext) -> str:
    return _("📍 Share my location")


def distance_verdict(_: Gettext, metres: float, near: bool, fix_age: float | None) -> str:
    d = _distance(_, metres)
    if near:
        return _fmt(_, _("✅ The device's position is {d} from you: it matches."), d=d)
    text = _fmt(
        _,
        _(
            "⚠️ The device's position is {d} from you. Check the IMEI on the label "
            "(another device?) and that this is the right vehicle. It may also be an old "
            "buffered point: wait a few minutes and share your location again."
        ),
        d=d,
    )
    if fix_age is not None and fix_age >= 600:
        text += "\n" + escape(_("Its last fix is {age}.").format(age=_age(_, fix_age)))
    return text


def no_location_to_compare(_: Gettext) -> str:
    return _("No device of yours here has a GPS position yet, so there is nothing to compare.")


def options(_: Gettext, watch: Watch, policy: WatchPolicy, now: float) -> str:
    head = _fmt(
        _,
        _("⚠️ <b>{label}</b> is not online after {elapsed}."),
        label=watch.label,
        elapsed=_minutes(_, now - watch.started_at),
    )
    return (
        head
        + "\n\n"
        + tips(_)
        + "\n\n"
        + escape(_("Then tap Retry activation (or change the APN first), or Check again."))
    )


def tips(_: Gettext) -> str:
    return escape(
        _(
            "Check:\n"
            "• the SIM has mobile data and a positive balance\n"
            "• the APN is right for this SIM\n"
            "• the device is powered (fuse, ground, LEDs)\n"
            "• the antennas face the sky, not under metal\n"
            "• the SIM sits right and has no PIN"
        )
    )


def escalation(_: Gettext, watch: Watch, now: float) -> str:
    name = escape(watch.user_name or str(watch.user_id))
    installer = f'<a href="tg://user?id={watch.user_id}">{name}</a>'
    tried = [_("automatic retry: {r}").format(r=_auto_result(_, watch))]
    tried.append(
        _.ngettext("{n} retry sent", "{n} retries sent", watch.retries).format(
            n=_.number(watch.retries)
        )
    )
    if watch.apn_changed:
        tried.append(_("APN changed"))
    text = _fmt(
        _,
        _(
            "🚨 No connection after {elapsed}\n"
            "<b>{label}</b> · tracker {tracker_id}\nModel: {model}"
        ),
        elapsed=_minutes(_, now - watch.started_at),
        label=watch.label,
        tracker_id=watch.tracker_id,
        model=watch.title,
    )
    if watch.device_id:
        text += "\n" + _fmt(_, _("Device ID: {device_id}"), device_id=watch.device_id)
    text += "\n" + _.isolate_placeholders(_("Installer: {installer}")).format(installer=installer)
    text += "\n" + escape(_("Tried: {tried}").format(tried="; ".join(tried)))
    return text


def _auto_result(_: Gettext, watch: Watch) -> str:
    if not watch.auto_retry_done:
        return _("not yet")
    if watch.retries:
        return _("sent")
    try:
        return retry_short(_, RetryOutcome(watch.last_retry_result or "other"))
    except ValueError:
        return _("refused")


def installer_escalated(_: Gettext) -> str:
    return _("I told the admins that this device is still silent.")


def retry_result(_: Gettext, outcome: RetryOutcome, *, code: int | None, apn: bool) -> str:
    """The installer's message for a `tracker/register_retry` outcome (docs §6.4)."""
    if outcome is RetryOutcome.SENT:
        if apn:
            return _(
                "🔁 Sent the activation again with the new APN. "
                "The device should connect within a few minutes."
            )
        return _("🔁 Sent the activation again. The device should connect within a few minutes.")
    if outcome is RetryOutcome.ALREADY_CONNECTED:
        return _("🎉 Good news: Navixy says the device is already connected.")
    if outcome is RetryOutcome.NOT_PERMITTED:
        return _(
            "The bot's Navixy account may not re-send activations (missing right). Ask your admin."
        )
    if outcome is RetryOutcome.NOT_FOUND:
        return _("Navixy no longer knows this tracker (deleted?). I stopped watching it.")
    if outcome is RetryOutcome.BLOCKED:
        return _("This tracker is blocked in Navixy (tariff ended?). Ask your admin.")
    if outcome is RetryOutcome.NO_GSM:
        return _(
            "This device takes no setup commands over SIM: configure its server and port "
            "by hand (see the status message)."
        )
    if outcome is RetryOutcome.CLONE:
        return _("This tracker is a clone: retry the original tracker instead.")
    if outcome is RetryOutcome.TOO_SOON:
        return _("Navixy allows one retry every 2 minutes. Try again shortly.")
    if outcome is RetryOutcome.BUSY:
        return _("Navixy is busy. Try again in a minute.")
    if outcome is RetryOutcome.UNAVAILABLE:
        return _("Navixy did not answer. Try again in a minute.")
    return _fmt(_, _("Navixy refused the retry (code {code})."), code=code or "?")


# --- APN entry ------------------------------------------------------------------------------


def ask_apn_name(_: Gettext) -> str:
    return _("New APN name for the retry, e.g. <i>internet</i>:")


def ask_apn_user(_: Gettext) -> str:
    return _("APN user name, or tap Skip if there is none.")


def ask_apn_password(_: Gettext) -> str:
    return _("APN password, or tap Skip if there is none.")


def bad_apn(_: Gettext) -> str:
    return _("That is not a valid APN value (Latin letters, digits and . - _ @, at most 40).")


# --- /pending and buttons -------------------------------------------------------------------


def pending_list(_: Gettext, watches: list[Watch], now: float) -> str:
    if not watches:
        return _("No registered device is waiting to come online.")
    lines = [escape(_("Registered, not online yet:"))]
    for w in watches:
        lines.append(
            _.mark
            + _fmt(
                _,
                "• <b>{label}</b> · {tracker_id} · {elapsed}",
                label=w.label,
                tracker_id=w.tracker_id,
                elapsed=_minutes(_, now - w.started_at),
            )
        )
    return "\n".join(lines)


def not_yours(_: Gettext) -> str:
    return _("Only the installer who registered this device (or an admin) can do that.")


def not_watched(_: Gettext) -> str:
    return _("I'm no longer watching this device.")


def navixy_busy(_: Gettext) -> str:
    return _("Navixy did not answer. Try again in a minute.")


def checked(_: Gettext) -> str:
    return _("Checked.")


def button_check(_: Gettext) -> str:
    return _("🔄 Check now")


def button_check_again(_: Gettext) -> str:
    return _("🔄 Check again")


def button_retry(_: Gettext) -> str:
    return _("🔁 Retry activation")


def button_apn(_: Gettext) -> str:
    return _("✏️ New APN + retry")


def button_stop(_: Gettext) -> str:
    return _("✖ Stop watching")


def button_ignition(_: Gettext, check: Check) -> str:
    if check is Check.IGNITION_ON:
        return _("🔑 Test ignition ON")
    return _("🔑 Test ignition OFF")


def button_finish(_: Gettext) -> str:
    return _("🏁 Finish")


def button_skip(_: Gettext) -> str:
    return _("Skip")


def button_pending_check(_: Gettext, label: str) -> str:
    return "🔄 " + _.isolate(label[:40])


def button_pending_retry(_: Gettext) -> str:
    return _("🔁 Retry")

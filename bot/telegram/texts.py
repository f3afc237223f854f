"""Every user-facing sentence, through gettext. Values are HTML-escaped here.

Functions take the installer's `_` (see bot.i18n.gettext_for) and plain values,
and return ready-to-send HTML text. Handlers never build sentences themselves.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from bot.domain.device_id import IdKind, IdProblem, IdRule, example_id
from bot.domain.draft import Draft, Step
from bot.domain.fields import APN_MAX, LABEL_MAX, FieldProblem
from bot.domain.navixy_outcomes import RegisterMessage, meaning
from bot.domain.phone import PhoneProblem, format_phone
from bot.i18n import Gettext
from bot.navixy.errors import NavixyError
from bot.photo.kinds import CodeKind, PhotoProblem


def _fmt(_: Gettext, template: str, **values: object) -> str:
    """Fill a translated HTML template with escaped values.

    In a right-to-left language every value sits in a Unicode isolate (see
    `Translator.isolate_placeholders`), so an IMEI or a label keeps its own direction.
    """
    return fmt(_, template, **values)


def fmt(_: Gettext, template: str, **values: object) -> str:
    """`_fmt` for the other message modules."""
    return _.isolate_placeholders(template).format(**{k: escape(str(v)) for k, v in values.items()})


def plain(_: Gettext, template: str, **values: object) -> str:
    """Fill a template that is sent as plain text (a button label, a callback alert)."""
    return _.isolate_placeholders(template).format(**{k: str(v) for k, v in values.items()})


# --- commands -------------------------------------------------------------------------------


def welcome(_: Gettext) -> str:
    return _(
        "Hi! I register GPS trackers on Navixy.\n\n"
        "Tap <b>Register</b> (or send /register): pick the model, send the IMEI "
        "(typed or as a photo of the label), the SIM number and APN, a name for the "
        "tracker, and you get the tracker ID back.\n\n"
        "/cancel stops at any step. /help shows this again."
    )


def not_allowed(_: Gettext, user_id: int) -> str:
    return _fmt(
        _,
        _(
            "Sorry, you are not on this bot's list of installers.\n"
            "Your Telegram user id is <code>{user_id}</code>: send it to your admin to get access."
        ),
        user_id=user_id,
    )


def commands(_: Gettext) -> list[tuple[str, str]]:
    """The bot's command menu: (command, description)."""
    return [
        ("register", _("Register a device")),
        ("cancel", _("Stop the current registration")),
        ("pending", _("Registered devices not online yet")),
        ("language", _("Change the bot's language")),
        ("help", _("What this bot does")),
    ]


def pick_language(_: Gettext) -> str:
    return _("Which language should I use with you?")


def button_language_auto(_: Gettext) -> str:
    return _("As my Telegram app")


def language_set(_: Gettext, name: str) -> str:
    # TRANSLATORS: {language} is the language's own name, e.g. "Русский".
    return _fmt(_, _("Done: I will write to you in {language}."), language=name)


def cancelled(_: Gettext) -> str:
    return _("Cancelled. Nothing was registered. Send /register to start again.")


def cancelled_unconfirmed(_: Gettext) -> str:
    return _(
        "Cancelled. Navixy never answered your last attempt, so it may still have created "
        "the tracker: I keep checking and will tell you here if it did."
    )


def nothing_to_cancel(_: Gettext) -> str:
    return _("There is nothing to cancel. Send /register to register a device.")


def stale_button(_: Gettext) -> str:
    return _("This button belongs to an earlier card. Send /register to start again.")


def already_registered_card(_: Gettext, tracker_id: int) -> str:
    return _fmt(_, _("Already registered: tracker ID {tracker_id}."), tracker_id=tracker_id)


def internal_error(_: Gettext) -> str:
    return _(
        "Something went wrong on my side. Your answers are kept: "
        "try again, or send /cancel to start over."
    )


def use_buttons(_: Gettext) -> str:
    return _("Please use the buttons above, or send /cancel.")


def idle_hint(_: Gettext) -> str:
    return _(
        "No registration is open. Tap <b>Register</b> to start one, or send the device's "
        "IMEI or a photo of its label."
    )


def unknown_command(_: Gettext) -> str:
    return _(
        "I don't know that command. /register starts a registration, /pending lists your "
        "devices that are not online yet, /cancel stops, /help explains the rest."
    )


def edit_not_read(_: Gettext) -> str:
    return _("I read new messages only, not edits: please send it again as a new message.")


def type_hint(_: Gettext, step: Step) -> str:
    """The short hint for a sticker, voice note, contact, ... where typed text is expected."""
    if step is Step.MODEL:
        return _("Please type part of the model's name or code, e.g. <i>FMB140</i>.")
    if step is Step.DEVICE_ID:
        return _("Please type the device ID, or send a photo of the label.")
    if step in (Step.PHONE, Step.NOTIFY_PHONE):
        return _("Please type the phone number, or share it as a contact.")
    if step in (Step.APN_NAME, Step.APN_USER, Step.APN_PASSWORD, Step.NOTIFY_EMAIL):
        return _("Please type your answer as text, or send - to skip.")
    return _("Please type your answer to the question above as text.")


def secret_stays_visible(_: Gettext) -> str:
    return _(
        "⚠️ I cannot delete messages in this group, so whatever you type here stays visible "
        "to everyone in it. Send - to skip it and set it on the device later, or send /cancel "
        "and register this device in a private chat with me."
    )


def secret_not_deleted(_: Gettext) -> str:
    return _(
        "⚠️ I could not delete your message: it shows the secret to everyone in this chat. "
        "Please delete it yourself."
    )


# --- model ----------------------------------------------------------------------------------


def ask_model(_: Gettext) -> str:
    return _(
        "Which device? Type part of the vendor, model or code, e.g. <i>FMB140</i> or "
        "<i>GV55 Lite</i>."
    )


def mobile_app_hint(_: Gettext) -> str:
    return _("For the X-GPS phone app, type <i>app</i>.")


def skip_hint(_: Gettext) -> str:
    return _("Send - to skip.")


#: How much of a search is echoed in the answer (the rest is the installer's own typing).
ECHO_CHARS = 60


def _echo(text: str) -> str:
    return text if len(text) <= ECHO_CHARS else text[: ECHO_CHARS - 1] + "…"


def pick_model(_: Gettext, query: str) -> str:
    return _fmt(_, _("Models matching “{query}”: pick one."), query=_echo(query))


def no_model_match(_: Gettext, query: str) -> str:
    return _fmt(
        _,
        _(
            "No model matches “{query}”. Try the vendor or the code (e.g. FMB140), "
            "or search the whole list."
        ),
        query=_echo(query),
    )


def catalog_unavailable(_: Gettext) -> str:
    return _(
        "The model list is not loaded yet and Navixy does not answer. Please try again in a minute."
    )


def model_chosen(_: Gettext, title: str) -> str:
    return _fmt(_, _("Model: {title}"), title=title)


def model_unknown(_: Gettext) -> str:
    return _("That model is not in the list (any more). Type the model again.")


def no_plugin(_: Gettext, title: str) -> str:
    return _fmt(
        _,
        _(
            "{title} cannot be registered from this Navixy account: no registration "
            "method applies to it. Ask your admin, or send /register to pick another model."
        ),
        title=title,
    )


def plugins_unavailable(_: Gettext) -> str:
    return _("Navixy did not answer, so I can't check how to register this model. Try again.")


# --- device id ------------------------------------------------------------------------------


def ask_device_id(_: Gettext, rule: IdRule) -> str:
    example = example_id(rule)
    if rule.kind is IdKind.IMEI:
        text = _("Send the IMEI: 15 digits, e.g. {example}. Or a photo of the label's barcode.")
    elif rule.kind is IdKind.MEID:
        text = _("Send the MEID: 14 hexadecimal characters, e.g. {example}.")
    elif rule.kind is IdKind.DIGITS:
        text = _.ngettext(
            "Send the device ID: {n} digit, e.g. {example}.",
            "Send the device ID: {n} digits, e.g. {example}.",
            rule.max_len,
        )
    else:
        text = _.ngettext(
            "Send the device ID: {min}–{n} Latin letter, digit or hyphen, e.g. {example}.",
            "Send the device ID: {min}–{n} Latin letters, digits or hyphens, e.g. {example}.",
            rule.max_len,
        )
    return _fmt(
        _,
        text,
        example=example,
        n=_.number(rule.max_len),
        min=_.number(rule.min_len),
    )


def device_id_not_for_model(_: Gettext, device_id: str, title: str) -> str:
    """Before the ID question: the ID given before the model (a label photo or a typed IMEI
    at the start) does not follow the rule of the model picked since."""
    return _fmt(
        _,
        _("The ID {device_id} is not valid for {title}; send the right one."),
        device_id=device_id,
        title=title,
    )


def bad_device_id(_: Gettext, rule: IdRule, problem: IdProblem, raw: str) -> str:
    digits = sum(ch.isdigit() for ch in raw)
    n = digits
    if problem is IdProblem.EMPTY:
        text = _("That was empty.")
    elif problem is IdProblem.BAD_CHECKSUM:
        text = _(
            "This IMEI fails its check digit: one digit is probably mistyped. "
            "Compare it with the label and send it again."
        )
    elif problem is IdProblem.BAD_CHARACTERS:
        if rule.kind is IdKind.MEID:
            text = _("An MEID has only digits 0–9 and letters A–F.")
        elif rule.kind is IdKind.ASCII:
            text = _("Only Latin letters, digits and hyphens are allowed.")
        else:
            text = _("The device ID has digits only.")
    elif rule.kind is IdKind.IMEI:
        text = _.ngettext(
            "An IMEI has 15 digits; you sent {n} digit.",
            "An IMEI has 15 digits; you sent {n} digits.",
            digits,
        )
    elif problem is IdProblem.TOO_SHORT:
        text, n = too_short(_, rule.min_len), rule.min_len
    elif problem is IdProblem.TOO_LONG:
        text, n = too_long(_, rule.max_len), rule.max_len
    else:
        n = rule.max_len
        text = _.ngettext(
            "Wrong length: {min}–{n} character expected.",
            "Wrong length: {min}–{n} characters expected.",
            n,
        )
    head = _fmt(_, text, n=_.number(n), min=_.number(rule.min_len))
    return head + "\n" + ask_device_id(_, rule)


def too_short(_: Gettext, n: int) -> str:
    return _.ngettext(
        "Too short: at least {n} character.", "Too short: at least {n} characters.", n
    )


def too_long(_: Gettext, n: int) -> str:
    return _.ngettext("Too long: at most {n} character.", "Too long: at most {n} characters.", n)


# --- phone ----------------------------------------------------------------------------------


def ask_phone(_: Gettext) -> str:
    return _(
        "Phone number of the SIM card in the device, international format, e.g. +49 170 1234567."
    )


def bad_phone(_: Gettext, problem: PhoneProblem) -> str:
    if problem is PhoneProblem.EMPTY:
        text = _("That was empty.")
    elif problem is PhoneProblem.NOT_A_NUMBER:
        text = _("That does not look like a phone number.")
    else:
        text = _(
            "That is not a valid number: check the country code and the digits "
            "(international format, starting with the country code)."
        )
    return text + "\n" + ask_phone(_)


# --- APN ------------------------------------------------------------------------------------


def apn_found(_: Gettext, operator: str, apn: str) -> str:
    return _fmt(
        _,
        _("The SIM belongs to {operator}. Its APN is <code>{apn}</code>."),
        operator=operator,
        apn=apn,
    )


def use_apn_button(_: Gettext, operator: str, apn: str) -> str:
    return plain(_, _("Use {operator}: {apn}"), operator=operator, apn=apn)


def ask_apn_name(_: Gettext, *, looked_up: bool) -> str:
    text = _("APN name of the SIM card, e.g. <i>internet</i> (the operator's website lists it).")
    if looked_up:
        return _("I don't know this SIM's operator.") + " " + text
    return text


def ask_apn_user(_: Gettext) -> str:
    return _("APN user name, or tap Skip if there is none.")


def ask_apn_password(_: Gettext) -> str:
    return _("APN password, or tap Skip if there is none.")


def bad_field(_: Gettext, problem: FieldProblem, step: Step) -> str:
    if problem is FieldProblem.EMPTY:
        return _("That was empty.")
    if step is Step.CODE:
        return _("The activation code has 3 to 20 digits.")
    if step is Step.NOTIFY_EMAIL:
        return _("That does not look like an e-mail address, e.g. name@example.com.")
    if problem is FieldProblem.TOO_LONG:
        limit = LABEL_MAX if step is Step.LABEL else APN_MAX
        return _fmt(_, too_long(_, limit), n=_.number(limit))
    if step is Step.LABEL:
        return escape(_("Use printable characters only, without < and >."))
    if step is Step.APN_PASSWORD:
        return _("The password contains characters that are not allowed.")
    return _("Use Latin letters, digits and . - _ @ only.")


# --- label, group, code, mobile app ---------------------------------------------------------


def ask_label(_: Gettext) -> str:
    return _fmt(
        _,
        _(
            "Name for this tracker, as it will show in Navixy: the vehicle's plate number "
            "is a good choice (e.g. <i>{example}</i>). Up to {n} characters."
        ),
        example="AB 123 C",
        n=_.number(LABEL_MAX),
    )


def ask_group(_: Gettext) -> str:
    return _("Which group should the tracker go to?")


def groups_unavailable(_: Gettext) -> str:
    return _("Navixy did not send the group list; you can still register without a group.")


def ask_code(_: Gettext) -> str:
    return _("Activation code from your dealer (digits).")


def ask_notify_phone(_: Gettext) -> str:
    return _("Phone number to text the app invitation to (international format), or tap Skip.")


def ask_notify_email(_: Gettext) -> str:
    return _("E-mail address to send the app invitation to, or tap Skip.")


# --- summary card and result ----------------------------------------------------------------


def mask(secret: str) -> str:
    """Show only the length-ish shape of a secret: never the secret itself."""
    return "•" * min(max(len(secret), 4), 8) if secret else ""


def summary(_: Gettext, draft: Draft) -> str:
    rows: list[tuple[str, str]] = [(_("Model"), draft.model_title or draft.model_code or "")]
    if draft.asks_device_id:
        rows.append((_("Device ID"), draft.device_id or ""))
    elif not draft.mobile:
        rows.append((_("Device ID"), _("assigned by Navixy")))
    if draft.has_phone and draft.phone:
        rows.append((_("SIM phone"), format_phone(draft.phone)))
    if draft.has_apn:
        apn = draft.apn_name or _("(none)")
        extra = []
        if draft.apn_user:
            extra.append(plain(_, _("user {user}"), user=draft.apn_user))
        if draft.apn_password:
            extra.append(plain(_, _("password {password}"), password=mask(draft.apn_password)))
        rows.append((_("APN"), apn + (" (" + ", ".join(extra) + ")" if extra else "")))
    rows.append((_("Label"), draft.label or ""))
    rows.append((_("Group"), draft.group_title or _("No group")))
    if draft.mobile:
        if draft.notification_phone:
            rows.append((_("Invite by SMS"), format_phone(draft.notification_phone)))
        if draft.notification_email:
            rows.append((_("Invite by e-mail"), draft.notification_email))
    if draft.code_required and draft.activation_code:
        rows.append((_("Activation code"), mask(draft.activation_code)))
    lines = [f"{_.mark}<b>{escape(k)}:</b> {_.isolate(escape(v))}" for k, v in rows]
    return _("Check and register:") + "\n\n" + "\n".join(lines)


def pick_field(_: Gettext) -> str:
    return _("What do you want to change?")


def field_name(_: Gettext, step: Step) -> str:
    names = {
        Step.MODEL: _("Model"),
        Step.DEVICE_ID: _("Device ID"),
        Step.PHONE: _("SIM phone"),
        Step.APN_NAME: _("APN"),
        Step.LABEL: _("Label"),
        Step.GROUP: _("Group"),
        Step.CODE: _("Activation code"),
        Step.NOTIFY_PHONE: _("Invite by SMS"),
        Step.NOTIFY_EMAIL: _("Invite by e-mail"),
    }
    return names.get(step, step.value)


def registering(_: Gettext) -> str:
    return _("Registering…")


def registered(
    _: Gettext, *, tracker_id: int, label: str, model: str, device_id: str | None, mobile: bool
) -> str:
    text = _fmt(
        _,
        _("✅ Registered.\n\n<b>Tracker ID: {tracker_id}</b>\nLabel: {label}\nModel: {model}"),
        tracker_id=tracker_id,
        label=label,
        model=model,
    )
    if device_id:
        text += "\n" + _fmt(_, _("Device ID: {device_id}"), device_id=device_id)
    if mobile and device_id:
        text += "\n\n" + _fmt(
            _,
            _("Give the employee this identifier for the X-GPS Tracker app: {device_id}"),
            device_id=device_id,
        )
    return text


def no_answer(_: Gettext) -> str:
    return _(
        "Navixy did not answer. Nothing was registered twice: tap Retry to send the same "
        "registration again."
    )


def no_answer_unchecked(_: Gettext) -> str:
    return _(
        "Navixy did not answer, and I could not check yet whether the tracker was created. "
        "Tap Retry: I will check first and never create it twice."
    )


def no_answer_pending(_: Gettext) -> str:
    return _(
        "Navixy has not confirmed the registration yet. Wait a minute, then tap Retry: "
        "I check first and never create it twice."
    )


def register_error(
    _: Gettext,
    error: NavixyError,
    existing_label: str | None = None,
    existing_id: int | None = None,
) -> str:
    """The installer's message for a refused `tracker/register` (the key: `meaning(code)`)."""
    code = error.code
    key = meaning(code).message
    if key is RegisterMessage.INVALID_VALUE:
        details = "; ".join(e.error for e in error.errors if e.error) or error.description
        return escape(_("Navixy rejected a value.")) + quoted(_, details)
    if key is RegisterMessage.NOT_PERMITTED:
        return _(
            "The Navixy account this bot uses is not allowed to register devices. "
            "Ask the account owner to grant the right, then tap Register again."
        )
    if key is RegisterMessage.GROUP_GONE:
        return _("That group no longer exists in Navixy. Pick the group again.")
    if key is RegisterMessage.MODEL_UNKNOWN:
        return _("Navixy does not know this model (any more). Pick the model again.")
    if key is RegisterMessage.DEVICE_LIMIT:
        return _(
            "The account has reached its device limit. Ask your admin or dealer to raise it, "
            "then tap Register again."
        )
    if key is RegisterMessage.PLUGIN_REFUSED:
        return _(
            "Navixy refused the registration method for this model. I refreshed the list: "
            "tap Register to try again, or pick another model."
        )
    if key is RegisterMessage.PHONE_IN_USE:
        return _("This SIM phone number is already used by another tracker. Check the number.")
    if key is RegisterMessage.DEVICE_ID_IN_USE:
        if existing_id is not None:
            return _fmt(
                _,
                _(
                    "This device is already registered in your account as “{label}” "
                    "(tracker ID {tracker_id}). Nothing new was created."
                ),
                label=existing_label or "",
                tracker_id=existing_id,
            )
        return _(
            "This device ID is already registered on Navixy (maybe in another account). "
            "Nothing was created. Check the ID, or ask your admin to release the device."
        )
    if key is RegisterMessage.LEGAL_TYPE:
        return _(
            "This device's tariff is not available for the account's legal type. "
            "Ask your admin or dealer."
        )
    if key is RegisterMessage.WRONG_ICCID:
        return _("Navixy does not recognise the SIM card's ICCID.")
    if key is RegisterMessage.WRONG_CODE:
        return _("The activation code is wrong or already used. Check it and send it again.")
    if key is RegisterMessage.NO_BUNDLE:
        return _(
            "Navixy has no bundle for this device ID. Check the ID, or ask your dealer "
            "whether the device was delivered as a bundle."
        )
    if key is RegisterMessage.CREDENTIALS:
        return _(
            "The bot could not sign in to Navixy (credentials refused). "
            "Please tell your admin; your answers are kept."
        )
    if key is RegisterMessage.BUSY:
        return _("Navixy is busy (too many requests). Wait a few seconds and tap Register again.")
    return _fmt(_, _("Navixy refused the registration (error {code})."), code=code) + quoted(
        _, error.description
    )


def quoted(_: Gettext, detail: str) -> str:
    """Navixy's own (English) words, as a quoted detail under our sentence."""
    detail = detail.strip()
    if not detail:
        return ""
    return (
        "\n" + escape(_("Navixy says:")) + f"\n<blockquote>{_.isolate(escape(detail))}</blockquote>"
    )


# --- buttons --------------------------------------------------------------------------------


def button_register(_: Gettext) -> str:
    return _("✅ Register")


def button_edit(_: Gettext) -> str:
    return _("✏️ Edit")


def button_cancel(_: Gettext) -> str:
    return _("Cancel")


def button_back(_: Gettext) -> str:
    return _("« Back")


def button_retry(_: Gettext) -> str:
    return _("🔁 Retry")


def button_skip(_: Gettext) -> str:
    return _("Skip")


def button_search(_: Gettext) -> str:
    return _("🔎 Search all models")


def button_mobile_app(_: Gettext) -> str:
    return _("📱 X-GPS mobile app")


def button_no_group(_: Gettext) -> str:
    return _("No group")


def button_other_apn(_: Gettext) -> str:
    return _("Enter another APN")


def button_start_register(_: Gettext) -> str:
    return _("📟 Register a device")


def button_change_device_id(_: Gettext) -> str:
    return _("Change device ID")


def inline_not_allowed(_: Gettext) -> str:
    return _("Not allowed: ask your admin for access")


def inline_description(_: Gettext, vendor: str, code: str) -> str:
    return plain(_, _("{vendor} · code {code}"), vendor=vendor, code=code)


# --- photos of the label --------------------------------------------------------------------


def photo_found_one(_: Gettext, device_id: str, *, from_ocr: bool) -> str:
    if from_ocr:
        text = _(
            "No barcode could be read, but the printed digits say <code>{device_id}</code>. "
            "Compare it with the label: use it?"
        )
    else:
        text = _("Read from the barcode: <code>{device_id}</code>. Use it?")
    return _fmt(_, text, device_id=device_id)


def photo_found_many(_: Gettext) -> str:
    return _("The photo has several device IDs. Which one is this device's?")


def photo_seen(_: Gettext, kinds: Sequence[CodeKind]) -> str:
    """What the photo showed instead of a device ID ("a SIM card number (ICCID)...")."""
    names = {
        CodeKind.ICCID: _("a SIM card number (ICCID)"),
        CodeKind.SERIAL: _("a serial number"),
        CodeKind.OTHER: _("a product code"),
        CodeKind.IMEI: _("an IMEI"),
        CodeKind.MEID: _("an MEID"),
    }
    seen = _.join(list(dict.fromkeys(names[k] for k in kinds)))
    return _fmt(_, _("I found {seen}, but not the ID this model needs."), seen=seen)


def photo_problem(_: Gettext, problem: PhotoProblem) -> str:
    if problem is PhotoProblem.TOO_SMALL:
        return _(
            "The barcode is too small in this photo to read. Come closer, so that the barcode "
            "fills most of the picture's width."
        )
    if problem is PhotoProblem.TOO_BLURRED:
        return _(
            "The barcode is blurred in this photo. Hold the phone still (rest your hands on "
            "something), tap the label on the screen to focus, then take the photo."
        )
    if problem is PhotoProblem.GLARE:
        return _(
            "A reflection covers part of the barcode. Tilt the phone a little or shade the "
            "label, so that no bright spot falls on the bars."
        )
    if problem is PhotoProblem.UNREADABLE:
        return _(
            "I can see a barcode but could not read it. Hold the phone straight over the label, "
            "not at an angle, with the whole barcode in the picture and nothing covering it."
        )
    if problem is PhotoProblem.NO_BARCODE:
        return _("I could not find a readable barcode in this photo.")
    if problem is PhotoProblem.BUSY:
        return _("I am still reading your previous photos. Send this one again in a moment.")
    if problem in (PhotoProblem.NOT_AN_IMAGE, PhotoProblem.ANIMATED):
        return _("That file is not a photo I can read. Send a JPEG or PNG picture of the label.")
    if problem is PhotoProblem.CORRUPT:
        return _("That picture is damaged and can't be opened. Please take it again.")
    if problem in (PhotoProblem.TOO_LARGE_FILE, PhotoProblem.TOO_MANY_PIXELS):
        return _("That picture is too large. Send it as a normal photo (not as a file).")
    return _("I could not find the device ID in this photo.")


def photo_failure(_: Gettext, problem: PhotoProblem, seen: Sequence[CodeKind]) -> str:
    """The note after a photo without a usable ID: what was seen instead (only a SIM or serial
    number), and the one thing to change (too small, blurred, glare, ...) or general tips."""
    parts = [photo_seen(_, seen)] if seen else []
    if problem not in (PhotoProblem.NO_MATCHING_ID, PhotoProblem.NO_BARCODE):
        parts.append(photo_problem(_, problem))  # specific advice
    else:
        if not seen:
            parts.append(photo_problem(_, problem))
        parts.append(photo_tips(_))
    return "\n".join(parts)


def photo_not_now(_: Gettext) -> str:
    return _("I read photos of the label at the device-ID step. Please answer the question above.")


def photo_tips(_: Gettext) -> str:
    return _(
        "Tips: hold the phone close and straight over the label, keep it flat, avoid glare "
        "and shadows. Or simply type the digits."
    )


def button_use_id(_: Gettext, device_id: str) -> str:
    return plain(_, _("Use {device_id}"), device_id=device_id)


def button_type_instead(_: Gettext) -> str:
    return _("⌨️ Type it instead")


def button_same_model(_: Gettext, title: str) -> str:
    return plain(_, _("Same as before: {title}"), title=title)


# --- an unknown outcome of tracker/register (the journal and the account were checked) ----


def registration_checking(_: Gettext) -> str:
    return _("Navixy did not confirm the registration. Checking whether the tracker was created…")


def registration_not_created(_: Gettext) -> str:
    return _(
        "Navixy did not answer clearly, so I checked the account: the tracker is not there, "
        "nothing was registered. Tap Retry to send the same registration again."
    )


def registration_not_found_yet(_: Gettext) -> str:
    return _(
        "Navixy did not answer clearly, and the tracker is not in the account yet: Navixy may "
        "still be creating it. Tap Retry in a minute: I check first and never create it twice."
    )


def registration_never_created(_: Gettext, label: str) -> str:
    return _fmt(
        _,
        _(
            "Navixy never confirmed the registration of “{label}”, and I checked the account: no "
            "tracker was created. Register it again when you are ready (nothing will be doubled)."
        ),
        label=label,
    )

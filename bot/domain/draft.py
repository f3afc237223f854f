"""The registration draft: what the installer has entered so far, and what comes next.

The draft is stored (as JSON) in the conversation's persistence after every step,
so it must stay plain data. Optional answers use None for "not asked yet" and ""
for "skipped".
"""

from __future__ import annotations

import secrets
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from bot.domain.device_id import IMEI_RULE, IdRule, parse_id_type
from bot.navixy.models import DeviceModel, RegisterRequest


class Step(StrEnum):
    """A question of the conversation; also the ConversationHandler state names."""

    MODEL = "model"
    DEVICE_ID = "device_id"
    PHONE = "phone"
    APN_CHOICE = "apn_choice"
    APN_NAME = "apn_name"
    APN_USER = "apn_user"
    APN_PASSWORD = "apn_password"
    LABEL = "label"
    GROUP = "group"
    CODE = "code"
    NOTIFY_PHONE = "notify_phone"
    NOTIFY_EMAIL = "notify_email"
    SUMMARY = "summary"


# Fields an installer can change from the summary card, in card order.
EDITABLE = (
    Step.MODEL,
    Step.DEVICE_ID,
    Step.PHONE,
    Step.APN_NAME,
    Step.LABEL,
    Step.GROUP,
    Step.CODE,
    Step.NOTIFY_PHONE,
    Step.NOTIFY_EMAIL,
)

# `errors[].parameter` of a Navixy error 7 -> the step that asks for it.
PARAMETER_STEPS = {
    "device_id": Step.DEVICE_ID,
    "phone": Step.PHONE,
    "apn_name": Step.APN_NAME,
    "apn_user": Step.APN_USER,
    "apn_password": Step.APN_PASSWORD,
    "label": Step.LABEL,
    "group_id": Step.GROUP,
    "activation_code": Step.CODE,
    "notification_phone": Step.NOTIFY_PHONE,
    "notification_email": Step.NOTIFY_EMAIL,
    "model": Step.MODEL,
}


def new_draft_id() -> str:
    return secrets.token_hex(6)


class ApnOffer(BaseModel):
    """The operator's APN found by `apn_settings/read`, offered as one tap."""

    operator: str
    name: str
    user: str = ""
    password: str = ""


class Draft(BaseModel):
    model_config = ConfigDict(validate_assignment=True)

    id: str
    chat_id: int
    user_id: int
    model_code: str | None = None
    model_title: str | None = None
    id_type: str | None = None
    asks_device_id: bool = True
    has_phone: bool = False
    has_apn: bool = False
    mobile: bool = False
    plugin_id: int | None = None
    code_required: bool = False
    device_id: str | None = None
    phone: str | None = None
    apn_name: str | None = None
    apn_user: str | None = None
    apn_password: str | None = None
    apn_operator: str | None = None
    label: str | None = None
    group_id: int | None = None
    group_title: str | None = None
    activation_code: str | None = None
    notification_phone: str | None = None
    notification_email: str | None = None
    apn_manual: bool = False
    apn_offer: ApnOffer | None = None

    @classmethod
    def start(cls, chat_id: int, user_id: int) -> Draft:
        return cls(id=new_draft_id(), chat_id=chat_id, user_id=user_id)

    @property
    def id_rule(self) -> IdRule:
        """The rule the device ID must follow: the model's `id_type`, parsed; an IMEI
        while no model is chosen (a registration started from an IMEI or a photo)."""
        return parse_id_type(self.id_type) if self.id_type else IMEI_RULE

    def choose_model(
        self, model: DeviceModel, *, asks_device_id: bool, plugin_id: int, code_required: bool
    ) -> None:
        """Set the model and plugin; answers that no longer apply are cleared."""
        changed = self.model_code is not None and self.model_code != model.code
        self.model_code = model.code
        self.model_title = model.title
        self.id_type = model.id_type
        self.mobile = model.is_mobile_app
        self.asks_device_id = asks_device_id and not self.mobile
        self.has_phone = model.has_phone and not self.mobile
        self.has_apn = model.has_apn_settings and self.has_phone
        self.plugin_id = plugin_id
        self.code_required = code_required
        if changed:
            # A different model may use another ID format: ask again.
            self.device_id = None
        if not self.asks_device_id:
            self.device_id = None
        if not self.has_phone:
            self.phone = None
        if not self.has_apn:
            self.clear_apn()
        if not code_required:
            self.activation_code = None
        if not self.mobile:
            self.notification_phone = None
            self.notification_email = None

    def clear_apn(self, *, manual: bool = False) -> None:
        self.apn_name = self.apn_user = self.apn_password = self.apn_operator = None
        self.apn_manual = manual
        self.apn_offer = None

    def use_apn_offer(self) -> bool:
        if self.apn_offer is None:
            return False
        self.apn_name = self.apn_offer.name
        self.apn_user = self.apn_offer.user
        self.apn_password = self.apn_offer.password
        self.apn_operator = self.apn_offer.operator
        return True

    def steps(self) -> list[Step]:
        """The questions this draft needs, in the order they are asked."""
        out = [Step.MODEL]
        if self.model_code is None:
            return out
        if self.asks_device_id:
            out.append(Step.DEVICE_ID)
        if self.has_phone:
            out.append(Step.PHONE)
        if self.has_apn:
            out += [Step.APN_CHOICE, Step.APN_NAME, Step.APN_USER, Step.APN_PASSWORD]
        out += [Step.LABEL, Step.GROUP]
        if self.mobile:
            out += [Step.NOTIFY_PHONE, Step.NOTIFY_EMAIL]
        if self.code_required:
            out.append(Step.CODE)
        return out

    def value_of(self, step: Step) -> object:
        return {
            Step.MODEL: self.model_code,
            Step.DEVICE_ID: self.device_id,
            Step.PHONE: self.phone,
            Step.APN_CHOICE: "manual" if self.apn_manual else self.apn_name,
            Step.APN_NAME: self.apn_name,
            Step.APN_USER: self.apn_user,
            Step.APN_PASSWORD: self.apn_password,
            Step.LABEL: self.label,
            Step.GROUP: self.group_id,
            Step.CODE: self.activation_code,
            Step.NOTIFY_PHONE: self.notification_phone,
            Step.NOTIFY_EMAIL: self.notification_email,
        }.get(step)

    def next_step(self) -> Step:
        """The first unanswered question, or the summary card when all are answered."""
        for step in self.steps():
            if self.value_of(step) is None:
                return step
        return Step.SUMMARY

    def editable_steps(self) -> list[Step]:
        present = set(self.steps())
        return [s for s in EDITABLE if s in present]

    def forget(self, step: Step) -> None:
        """Clear an answer so that `next_step` asks for it again."""
        if step is Step.APN_CHOICE:
            self.clear_apn()
        elif step is Step.APN_NAME:
            self.clear_apn(manual=True)
        elif step is Step.APN_USER:
            self.apn_user = self.apn_password = None
        elif step is Step.APN_PASSWORD:
            self.apn_password = None
        elif step is Step.MODEL:
            self.model_code = None
        elif step is Step.GROUP:
            self.group_id = None
            self.group_title = None
        else:
            attr = {
                Step.DEVICE_ID: "device_id",
                Step.PHONE: "phone",
                Step.LABEL: "label",
                Step.CODE: "activation_code",
                Step.NOTIFY_PHONE: "notification_phone",
                Step.NOTIFY_EMAIL: "notification_email",
            }[step]
            setattr(self, attr, None)

    def to_request(self) -> RegisterRequest:
        """The `tracker/register` parameters. Raises ValueError if the draft is incomplete."""
        if self.next_step() is not Step.SUMMARY:
            raise ValueError(f"draft incomplete: {self.next_step()}")
        assert self.model_code is not None and self.plugin_id is not None
        assert self.label is not None and self.group_id is not None
        return RegisterRequest(
            label=self.label,
            group_id=self.group_id,
            plugin_id=self.plugin_id,
            model=self.model_code,
            device_id=self.device_id if self.asks_device_id else None,
            phone=self.phone if self.has_phone else None,
            apn_name=self.apn_name if self.has_apn else None,
            apn_user=self.apn_user if self.has_apn else None,
            apn_password=self.apn_password if self.has_apn else None,
            activation_code=self.activation_code or None,
            notification_phone=self.notification_phone or None,
            notification_email=self.notification_email or None,
        )

"""Registration plugin choice (docs/navixy-api.md §5, §7 step 3)."""

from __future__ import annotations

from bot.domain.plugins import (
    REGISTRATION_TYPE,
    accepts_activation_code,
    choose_plugin,
    is_mobile_plugin,
    plugin_applies,
    requires_activation_code,
)
from bot.navixy.models import DeviceModel, Plugin, PluginFilter

HW_EXCLUDES = ["navixymobile.*", "mobile_unknown.*", "iosnavixytracker.*"]


def plugin(pid: int, exclusion: bool, values: list[str], type_: str = REGISTRATION_TYPE) -> Plugin:
    return Plugin(id=pid, type=type_, filter=PluginFilter(exclusion=exclusion, values=values))


def model(code: str) -> DeviceModel:
    return DeviceModel(id=1, code=code)


# The documented example list (§8.5) plus a report plugin.
DOC_LIST = [
    plugin(4, True, [], type_="tracker_report"),
    plugin(44, True, HW_EXCLUDES),
    plugin(37, True, HW_EXCLUDES),
    plugin(35, False, ["mobile_unknown.*"]),
    plugin(68, False, ["mobile_unknown.*"]),
]
FMB140 = model("telfmb140")
APP = model("mobile_unknown_xgps")


def test_filter_semantics() -> None:
    assert plugin_applies(plugin(1, True, []), "anything")
    assert not plugin_applies(plugin(1, False, []), "anything")
    assert not plugin_applies(plugin(1, True, HW_EXCLUDES), "mobile_unknown_xgps")
    assert plugin_applies(plugin(1, True, HW_EXCLUDES), "telfmb140")
    assert plugin_applies(plugin(1, False, ["mobile_unknown.*"]), "mobile_unknown_xgps")
    assert not plugin_applies(plugin(1, False, ["mobile_unknown.*"]), "telfmb140")


def test_regex_must_match_the_whole_code() -> None:
    assert not plugin_applies(plugin(1, False, ["navixymobile"]), "navixymobile_xgps")
    assert plugin_applies(plugin(1, False, ["navixymobile"]), "navixymobile")
    assert not plugin_applies(plugin(1, False, ["fmb"]), "telfmb140")
    assert plugin_applies(plugin(1, False, ["tel.*", "ql.*"]), "qlgv55")


def test_bad_regex_never_matches() -> None:
    assert not plugin_applies(plugin(1, False, ["(unclosed"]), "(unclosed")
    # As an exclusion it excludes nothing.
    assert plugin_applies(plugin(1, True, ["[bad"]), "telfmb140")
    assert plugin_applies(plugin(1, False, ["[bad", "tel.*"]), "telfmb140")


def test_hardware_prefers_44_then_37() -> None:
    chosen = choose_plugin(DOC_LIST, FMB140)
    assert chosen is not None and chosen.id == 44
    without_44 = [p for p in DOC_LIST if p.id != 44]
    chosen = choose_plugin(without_44, FMB140)
    assert chosen is not None and chosen.id == 37


def test_mobile_app_prefers_35_then_68() -> None:
    chosen = choose_plugin(DOC_LIST, APP)
    assert chosen is not None and chosen.id == 35
    chosen = choose_plugin([p for p in DOC_LIST if p.id != 35], APP)
    assert chosen is not None and chosen.id == 68
    # Hardware plugins never serve the app, even if their filter lets it through.
    assert choose_plugin([plugin(44, True, []), plugin(37, True, [])], APP) is None


def test_filter_and_type_are_respected() -> None:
    # 44 excludes this model, so 37 it is.
    excluding = [plugin(44, True, ["telfmb.*"]), plugin(37, True, [])]
    chosen = choose_plugin(excluding, FMB140)
    assert chosen is not None and chosen.id == 37
    # Only tracker_register plugins count.
    assert choose_plugin([plugin(44, True, [], type_="tracker_report")], FMB140) is None
    # Other registration plugins (bundled SIM, id 1) are never chosen.
    assert choose_plugin([plugin(1, True, [])], FMB140) is None
    assert choose_plugin([], FMB140) is None
    assert choose_plugin([plugin(35, False, ["mobile_unknown.*"])], FMB140) is None


def test_activation_code_rules() -> None:
    assert [p for p in (44, 37, 35, 68, 1) if requires_activation_code(p)] == [37, 68]
    assert [p for p in (44, 37, 35, 68, 1) if accepts_activation_code(p)] == [44, 37, 35, 68]
    assert [p for p in (44, 37, 35, 68, 1) if is_mobile_plugin(p)] == [35, 68]

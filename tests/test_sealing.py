from bot.sealing import SecretBox


def test_seal_and_open_round_trip() -> None:
    box = SecretBox("123:token")
    sealed = box.seal("6045325592")
    assert "6045325592" not in sealed
    assert sealed.startswith("sealed:")
    assert box.open(sealed) == "6045325592"


def test_other_key_or_damage_gives_none() -> None:
    sealed = SecretBox("123:token").seal("secret")
    assert SecretBox("456:other").open(sealed) is None
    assert SecretBox("123:token").open(sealed[:-4] + "AAAA") is None
    assert SecretBox("123:token").open("plain text") is None

"""The offline language check: the script of the letters decides."""

from __future__ import annotations

import pytest

from triage import language


@pytest.mark.parametrize(("text", "expected"), [
    ("パスワードの変更方法を教えてください", "ja"),
    ("ﾊﾟｽﾜｰﾄﾞを忘れました", "ja"),
    ("My Pageにログインできません。IDはabc123です", "ja"),
    ("補償請求", "ja"),
    ("訴訟します", "ja"),
    ("I'm going to sue you, my card was used, refund me", "latin"),
    ("Ｒｅｆｕｎｄ ｍｅ ｎｏｗ", "latin"),
    ("비밀번호를 잊어버렸습니다", "hangul"),
    ("我的信用卡被盗用了请立即退款并赔偿我的损失", "han"),
    ("Мою карту использовали", "cyrillic"),
    ("12345 !!! ---", ""),
])
def test_detect(text: str, expected: str) -> None:
    assert language.detect(text) == expected


def test_review_reason_names_the_script_in_japanese() -> None:
    assert language.review_reason("パスワードを忘れました") is None
    reason = language.review_reason("I'm going to sue you, my card was used, refund me")
    assert reason is not None and "日本語以外" in reason and "英語" in reason

"""The learned part of the claims requests: what it adds, what it leaves alone, its weights and their data."""

from __future__ import annotations

import copy
import hashlib
import json

import pytest

from triage import claims, claims_learned


def requests(text: str, learned: bool = True) -> list[str]:
    return claims._requests(claims._request_norm(text), learned=learned)


# Asks in words the rules have no cue for: the rules alone find nothing, the learned part adds the remedy.
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("回線が一週間使えませんでした。その間の月額料金はどうなりますか。", ["refund"]),
        ("工事が延期になり、休みを取っていたのが無駄になりました。その日の分の日当はどうなりますか。", ["damages"]),
        ("立ち会いのために仕事を休みました。その分の日当はどうなりますか。", ["damages"]),
        ("向かいの家にはお詫びの商品券が届いたそうです。うちも同じ日に断水しました。うちには来ないのですか。", ["voucher"]),
    ],
)
def test_indirect_asks_are_added(text: str, expected: list[str]) -> None:
    assert requests(text, learned=False) == []
    assert requests(text) == expected
    assert claims.extract(text)["requests"] == expected


# Declined, offered, received, resigned, told as a story, the company's words, the agent's turn: nothing,
# whatever the regression says (the rules' negative signals veto it).
@pytest.mark.parametrize(
    "text",
    [
        "返金はいりません。原因を教えてください。",
        "お詫びに500ポイントを付与すると言われました。ありがとうございます。",
        "クーポンをもらいましたので、それで結構です。",
        "おわびのクーポンは受け取りました。ありがとうございました。",
        "返金はさすがに無理でしょうね。仕方ないです",
        "返金詐欺の電話がありました。注意してください。",
        "800円のクーポンで済ませるつもりですか。誠意を見せてください",
        "会費はしっかり取るくせに、サポートの電話はつながらないの？漏れた項目だけ教えて",
        "オペ：お詫びに次回の送料を無料にいたします。\n客：送料より、原因が知りたいんです。",
        "証明書の発行手数料はいくらですか",
        # read from claims_test9: how a charge works asked or told, a past event told with no ask, English told as done,
        # money set aside as a whole, nothing sought
        "再発行って手数料かかるんでしたっけ",
        "出張料金を取るのは当日キャンセルの場合だけです",
        "鍵屋に払った8,000円は先週精算されました。",
        "The booking fee was taken off the bill yesterday, thank you.",
        "娘の治療費は9,870円でした。お店の方は親切でしたので、お金のことはもう大丈夫です。",
        "特に何かしてほしいわけではありません。ただ、今月で四回目なので、さすがに何とかしてください。",
    ],
)
def test_declines_offers_and_stories_stay_empty(text: str) -> None:
    assert requests(text) == []


def test_it_adds_only_where_the_rules_found_nothing() -> None:
    # The rules find the refund; the learned part adds nothing next to it (in cross-validation those were all wrong).
    text = "代金を返金してください。その間の月額料金はどうなりますか。"
    found, hits, _ = claims._rule_requests(claims._request_norm(text))
    assert found == {"refund"}
    assert claims_learned.added(claims._request_norm(text), hits, found) == set()


def test_a_charge_gives_one_remedy_not_two() -> None:
    assert claims_learned.chosen({"refund": 0.99, "fee_waiver": 0.985, "points": 0.2}, 0.98) == {"refund"}
    assert claims_learned.chosen({"refund": 0.981, "fee_waiver": 0.99}, 0.98) == {"fee_waiver"}


def test_a_wrong_weight_flips_a_known_case() -> None:
    # The learned part can fail: one n-gram of the sentence end weighted against asking removes the addition,
    # and a bias raised far enough adds a remedy to a text that asks for nothing.
    text = "立ち会いのために仕事を休みました。その分の日当はどうなりますか。"
    norm = claims._request_norm(text)
    found, hits, _ = claims._rule_requests(norm)
    assert claims_learned.added(norm, hits, found) == {"damages"}
    wrong = copy.deepcopy(claims_learned.model())
    wrong["weights"]["e"]["ますか"] = -50.0
    assert claims_learned.added(norm, hits, found, weights=wrong) == set()
    # (a past event told with no ask is vetoed whatever the weights, so the story is told in the present)
    story = claims._request_norm("会費は毎月5日の引き落としです。")
    found, hits, _ = claims._rule_requests(story)
    assert claims_learned.added(story, hits, found) == set()
    wrong = copy.deepcopy(claims_learned.model())
    wrong["bias"] = 50.0
    assert claims_learned.added(story, hits, found, weights=wrong) != set()


def test_the_weights_match_their_data() -> None:
    shipped = json.loads(claims_learned.WEIGHTS.read_text(encoding="utf-8"))
    assert shipped["threshold"] == claims_learned.THRESHOLD
    assert set(shipped["data"]) == set(claims_learned.SETS)
    for path, digest in shipped["data"].items():
        assert hashlib.sha256((claims_learned.ROOT / path).read_bytes()).hexdigest() == digest, \
            f"{path} changed: retrain with python -m triage.claims_learned train"


def test_retraining_gives_the_shipped_weights() -> None:
    # Deterministic (lbfgs on sorted features), rounded to three decimals: the same file from the same data.
    shipped = json.loads(claims_learned.WEIGHTS.read_text(encoding="utf-8"))
    assert claims_learned.train() == shipped

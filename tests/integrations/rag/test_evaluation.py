"""The evaluation's own checks: metrics and the grounded-answer rule."""

from integrations.rag.evaluation import (
    LabelledQuestion,
    first_relevant_rank,
    is_grounded,
    load_ledger,
    load_questions,
    retrieval_metrics,
)
from integrations.rag.grounded import DONT_KNOW
from integrations.rag.types import Answer, Citation

SOURCES = {"refunds#window:0": "Refunds are accepted up to 180 days after capture."}
ITEM = LabelledQuestion(
    q="refund window?", passages=["refunds#window"], answer="180 days"
)


def _answer(text, ids=("refunds#window:0",)):
    cites = [Citation(n=1, id=i, title="t", kind="kb", snippet="") for i in ids]
    return Answer(text=text, citations=cites, confident=bool(cites))


def test_hit_at_3_and_mrr_follow_the_first_relevant_rank():
    ranks = [1, 3, None, 2]
    assert first_relevant_rank(["a", "b", "c"], {"c"}) == 3
    assert retrieval_metrics(ranks) == {
        "hit@3": 0.75,
        "mrr": round((1 + 1 / 3 + 0.5) / 4, 4),
    }


def test_an_answer_quoting_its_cited_passage_is_grounded():
    assert is_grounded(
        _answer("Refunds are accepted up to 180 days [1]"), ITEM, SOURCES
    )


def test_an_answer_with_a_figure_absent_from_its_sources_is_not_grounded():
    text = "Refunds are accepted up to 180 days, or 365 days for gold merchants [1]"
    assert not is_grounded(_answer(text), ITEM, SOURCES)


def test_an_answer_citing_the_wrong_passage_is_not_grounded():
    assert not is_grounded(_answer("180 days [1]", ids=("other#x:0",)), ITEM, SOURCES)


def test_an_answer_naming_another_users_payment_is_not_grounded():
    answer = _answer("Refunds are accepted up to 180 days [1] see pay_X0001")
    assert not is_grounded(answer, ITEM, SOURCES, forbidden={"pay_X0001"})


def test_only_i_dont_know_is_grounded_for_an_unanswerable_question():
    item = LabelledQuestion(q="capital of France?", passages=[])
    assert is_grounded(Answer(text=DONT_KNOW, confident=False), item, SOURCES)
    assert not is_grounded(
        _answer("Refunds are accepted up to 180 days [1]"), item, SOURCES
    )


def test_the_labelled_set_has_at_least_60_questions_and_every_label_exists(kb_index):
    items, sections = load_questions(), {p.section_id for p in kb_index.passages}
    assert len(items) >= 60
    assert {s for i in items for s in i.passages} <= sections
    ledger_ids = {r.id for r in load_ledger()}
    assert {i.txn for i in items if i.txn} <= ledger_ids

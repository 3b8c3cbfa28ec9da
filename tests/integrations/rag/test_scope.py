"""Questions in the payment domain that the KB cannot answer get "I don't know" with
the support contact, not the nearest page; questions the KB answers still get
answers."""

from __future__ import annotations

import pytest

from integrations.rag.assistant import Assistant
from integrations.rag.grounded import DONT_KNOW
from integrations.rag.scope import kb_vocabulary, specific_terms, unknown_terms


def test_proper_names_and_pricing_terms_are_specific_but_ids_and_first_words_are_not():
    assert specific_terms("Do you support PayPal?") == {"paypal"}
    assert specific_terms("What fee do you take?") == {"fee"}
    assert "fee" in specific_terms("How much do you charge for a card payment?")
    assert specific_terms("Why was my payment pay_E0001 declined?") == set()
    assert specific_terms("Refunds: how do they work?") == set()


def test_a_term_the_kb_mentions_is_in_scope():
    vocabulary = kb_vocabulary(["Stripe takes cards."])
    assert unknown_terms("Can Stripe refund it?", vocabulary) == set()
    assert unknown_terms("Does Klarna work?", vocabulary) == {"klarna"}


@pytest.mark.parametrize(
    "question",
    [
        "What fee does SmartPay charge for an Amazon Pay payment?",
        "Can customers in Venezuela pay with SmartPay?",
        "Do you support Google Pay?",
    ],
)
def test_an_unanswerable_in_domain_question_gets_i_dont_know_with_a_person_to_ask(
    kb_index, config, question
):
    answer = Assistant(kb_index, config).answer(question, "u_1", "m_1")
    assert answer.text == DONT_KNOW and not answer.confident and not answer.citations
    assert "support@smartpay.example" in answer.text


def test_a_question_naming_gateways_the_kb_describes_is_answered(kb_index, config):
    answer = Assistant(kb_index, config).answer(
        "How does SmartPay choose between Stripe and Amazon Pay?", "u_1", "m_1"
    )
    assert answer.confident and answer.citations

"""The questions a handler asks Stripe, answered with no lock held.

A handler applies its event inside a transaction that locks the event's row (and, on
SQLite, the whole database). It must not wait for Stripe there: it is handed
`PrefetchedAnswers` instead of the gateway. A question it has no answer to yet stops the
transaction (`NeedsStripe`); the intake rolls back, asks Stripe with nothing held, and
applies the event again with the answer. Most events ask nothing and apply in one pass."""

from __future__ import annotations

from dataclasses import dataclass, field

from membership.donations.gateway import Gateway, GatewayError

# The gateway's read-only questions a handler may ask.
QUESTIONS = ("customer_email", "payment_intent_for_invoice", "invoice_for_payment_intent")
# Enough for the longest chain of questions one event leads to.
MAX_ROUNDS = 4


class NeedsStripe(Exception):
    def __init__(self, question: tuple[str, str]):
        super().__init__(f"{question[0]}({question[1]!r})")
        self.question = question


@dataclass
class PrefetchedAnswers:
    """Stands in for the gateway inside the transaction: answers what was asked before."""

    gateway: Gateway
    answers: dict[tuple[str, str], str | GatewayError | None] = field(default_factory=dict)

    def _answer(self, question: tuple[str, str]) -> str | None:
        if question not in self.answers:
            raise NeedsStripe(question)
        answer = self.answers[question]
        if isinstance(answer, GatewayError):
            raise answer
        return answer

    def customer_email(self, customer_id: str) -> str | None:
        return self._answer(("customer_email", customer_id))

    def payment_intent_for_invoice(self, invoice_id: str) -> str | None:
        return self._answer(("payment_intent_for_invoice", invoice_id))

    def invoice_for_payment_intent(self, payment_intent_id: str) -> str | None:
        return self._answer(("invoice_for_payment_intent", payment_intent_id))

    def ask(self, question: tuple[str, str]) -> None:
        """Put the question to Stripe (call with no transaction open) and keep the answer,
        a refusal included: the handler decides what a refusal means."""
        method, argument = question
        try:
            self.answers[question] = getattr(self.gateway, method)(argument)
        except GatewayError as error:
            self.answers[question] = error

"""DSO <-> PLO information exchange: signed messages, their payloads, and the exchange modes as plug-ins.

- `messages`: envelope, signatures, the channel with deliberate faults, the message log;
- `payloads`: what offers, schedules and signals carry;
- `base`: the `ExchangeMode` interface (both sides of a mode in one class);
- `centralised`, `signals`, `iterative`, `admm`, `none`: the built-in modes; `registry`: modes by name or dotted path;
- `lindistflow`, `qp`, `penalties`: the DSO's convex grid model for `admm`, its QP solver and the penalties it shares
  with the welfare ledger.
"""

from cosim.exchange.base import DayContext, DsoSide, ExchangeMode, Outgoing, PloSide
from cosim.exchange.registry import EXCHANGE_MODES, make_exchange_mode

__all__ = ["EXCHANGE_MODES", "DayContext", "DsoSide", "ExchangeMode", "Outgoing", "PloSide", "make_exchange_mode"]

"""DSO <-> PLO information exchange: signed messages, payloads and the exchange modes."""

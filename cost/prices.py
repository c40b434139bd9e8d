"""The dated price file (prices_us_east_1.json): loading, checking its shape, and pricing a quantity.

A price is either flat (`usd` per `per` units) or tiered (`tiers`: cumulative `up_to` quantities, the last
one open with `up_to: null`). Free tier allowances live in their own section and are only ever reported
apart (`free_tier_value`), never subtracted by `cost`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

PRICE_FILE = Path(__file__).with_name("prices_us_east_1.json")
REQUIRED = ("unit", "per", "source", "verified")


class PriceFileError(ValueError):
    """The price file is malformed (message names the entry)."""


@dataclass(frozen=True)
class Prices:
    data: dict

    @property
    def checked(self) -> str:
        return self.data["checked"]

    @property
    def region(self) -> str:
        return self.data["region"]

    @property
    def month_hours(self) -> float:
        return float(self.data.get("billing_month_hours", 730))

    def entry(self, key: str) -> dict:
        try:
            return self.data["prices"][key]
        except KeyError:
            raise KeyError(f"no price '{key}' in {self.region} price file") from None

    def unit_price(self, key: str) -> float:
        """Price of one unit at the first tier (for marginal figures and free tier values)."""
        entry = self.entry(key)
        usd = entry["tiers"][0]["usd"] if "tiers" in entry else entry["usd"]
        return usd / entry["per"]

    def cost(self, key: str, quantity: float) -> float:
        """USD for `quantity` units in one month, tiers applied, no free tier."""
        entry = self.entry(key)
        if quantity <= 0:
            return 0.0
        if "tiers" not in entry:
            return quantity * entry["usd"] / entry["per"]
        total, below = 0.0, 0.0
        for tier in entry["tiers"]:
            top = tier["up_to"]
            in_tier = (quantity if top is None else min(quantity, top)) - below
            if in_tier <= 0:
                break
            total += in_tier * tier["usd"] / entry["per"]
            if top is None:
                break
            below = top
        return total

    def allowance(self, key: str) -> dict | None:
        return self.data["free_tier"]["allowances"].get(key)

    def free_tier_value(self, allowance_key: str, price_key: str, quantity: float) -> float:
        """What `allowance_key` would take off `quantity` units of `price_key` (only ever reported apart)."""
        allowance = self.allowance(allowance_key)
        if allowance is None or quantity <= 0:
            return 0.0
        return self.cost(price_key, min(quantity, allowance["quantity"]))

    def unverified(self) -> list[str]:
        return sorted(k for k, v in self.data["prices"].items() if not v.get("verified"))


def load_prices(path: Path = PRICE_FILE) -> Prices:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    problems = check_shape(data)
    if problems:
        raise PriceFileError(f"{path}: " + "; ".join(problems))
    return Prices(data)


def check_shape(data: dict) -> list[str]:
    """Every problem with the file's shape (empty list = fine)."""
    problems = []
    for field in ("region", "currency", "checked", "prices", "free_tier"):
        if field not in data:
            problems.append(f"missing '{field}'")
    for key, entry in (data.get("prices") or {}).items():
        for field in REQUIRED:
            if field not in entry:
                problems.append(f"{key}: missing '{field}'")
        if not str(entry.get("source", "")).startswith("https://"):
            problems.append(f"{key}: source is not an https URL")
        if ("usd" in entry) == ("tiers" in entry):
            problems.append(f"{key}: needs exactly one of 'usd' or 'tiers'")
        tiers = entry.get("tiers") or []
        if tiers and tiers[-1].get("up_to") is not None:
            problems.append(f"{key}: the last tier must be open (up_to: null)")
        tops = [t["up_to"] for t in tiers[:-1]]
        if any(top is None for top in tops) or tops != sorted(tops):
            problems.append(f"{key}: tiers must rise")
    allowances = ((data.get("free_tier") or {}).get("allowances")) or {}
    for key, allowance in allowances.items():
        for field in ("quantity", "unit", "term", "source", "verified"):
            if field not in allowance:
                problems.append(f"free tier {key}: missing '{field}'")
    return problems

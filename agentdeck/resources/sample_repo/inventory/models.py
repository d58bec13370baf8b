"""The things the shop keeps track of: items in stock and the receipts of sales."""
from dataclasses import dataclass, field


@dataclass
class Item:
    """One product line in the stock."""

    sku: str
    name: str
    unit_price: float
    quantity: int = 0
    tags: list = field(default_factory=list)

    def total_value(self):
        return self.unit_price * self.quantity

    def is_low(self, threshold=3):
        return self.quantity <= threshold


@dataclass
class ReceiptLine:
    sku: str
    quantity: int
    price: float


@dataclass
class Reciept:
    """What the customer takes home after a sale."""

    number: int
    lines: list = field(default_factory=list)

    def total(self):
        return round(sum(line.price * line.quantity for line in self.lines), 2)

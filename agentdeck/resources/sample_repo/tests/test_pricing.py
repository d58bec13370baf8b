import pytest

from inventory.models import Item
from inventory.pricing import apply_discount, bulk_discount, sell, with_tax


def test_apply_discount():
    assert apply_discount(100.0, 5) == 95.0
    assert apply_discount(14.5, 0) == 14.5


def test_apply_discount_rejects_bad_percent():
    with pytest.raises(ValueError, match="between 0 and 100"):
        apply_discount(10.0, 120)


def test_bulk_discount_starts_at_ten():
    assert bulk_discount(9) == 0
    assert bulk_discount(10) == 5


def test_with_tax():
    assert with_tax(10.0) == 12.0


def test_sell_reduces_stock_and_returns_a_reciept():
    item = Item("A-100", "Claw hammer", 20.0, quantity=12)
    reciept = sell(item, 10, number=7)
    assert item.quantity == 2
    assert reciept.number == 7
    assert reciept.total() == 190.0


def test_sell_refuses_more_than_in_stock():
    item = Item("B-220", "Wood screws", 6.9, quantity=2)
    with pytest.raises(ValueError, match="only 2 of B-220 left"):
        sell(item, 3, number=1)

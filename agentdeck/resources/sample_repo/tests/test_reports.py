import json

from inventory import storage
from inventory.models import Item, ReceiptLine
from inventory.pricing import sell
from inventory.reports import format_reciept, stock_report


def test_stock_report_lists_items_by_sku_and_low_stock():
    items = [
        Item("B-220", "Wood screws", 6.9, quantity=2),
        Item("A-100", "Claw hammer", 14.5, quantity=12),
    ]
    assert stock_report(items).splitlines() == [
        "SKU          NAME                        QTY      VALUE",
        "A-100        Claw hammer                  12 174.00 EUR",
        "B-220        Wood screws                   2  13.80 EUR",
        "low stock: B-220",
    ]


def test_format_reciept():
    item = Item("A-100", "Claw hammer", 14.5, quantity=12)
    reciept = sell(item, 2, number=3)
    reciept.lines.append(ReceiptLine("C-310", 1, 22.0))
    assert format_reciept(reciept).splitlines() == [
        "Receipt #3",
        "A-100          2 x 14.50 EUR =  29.00 EUR",
        "C-310          1 x 22.00 EUR =  22.00 EUR",
        "TOTAL 51.00 EUR",
    ]


def test_items_survive_a_save_and_load(tmp_path):
    path = tmp_path / "stock.json"
    storage.save_items(path, [Item("A-100", "Claw hammer", 14.5, quantity=12)])
    assert json.loads(path.read_text())[0]["sku"] == "A-100"
    assert storage.load_items(path) == [Item("A-100", "Claw hammer", 14.5, quantity=12)]

import logging

from inventory.models import Item, Reciept, ReceiptLine

log = logging.getLogger(__name__)
TAX_RATE = 0.2   
BULK_THRESHOLD = 10


def apply_discount(price, percent):
    if percent < 0 or percent > 100:
        raise ValueError("percent must be between 0 and 100")
    return round(price * (100 - percent) / 100, 2)


def bulk_discount(quantity):
    # TODO: make the bulk threshold configurable per customer
    if quantity >= BULK_THRESHOLD:
        return 5
    return 0


def with_tax(amount):
    return round(amount * (1 + TAX_RATE), 2)


def sell(item, quantity, number):
    if quantity > item.quantity:
        raise ValueError("only %d of %s left" % (item.quantity, item.sku))
    price = apply_discount(item.unit_price, bulk_discount(quantity))
    print("DEBUG sell", item.sku, quantity, price)
    item.quantity -= quantity
    reciept = Reciept(number)
    reciept.lines.append(ReceiptLine(item.sku, quantity, price))
    return reciept

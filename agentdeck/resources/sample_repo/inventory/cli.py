"""Command line: python3 -m inventory.cli STOCK.json report|sell SKU QUANTITY"""
import argparse
import sys

from inventory import storage
from inventory.pricing import sell
from inventory.reports import format_reciept, stock_report


def main(argv=None):
    parser = argparse.ArgumentParser(prog="inventory")
    parser.add_argument("stock", help="the JSON stock file")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("report", help="print the stock report")
    sale = sub.add_parser("sell", help="sell some units of one item")
    sale.add_argument("sku")
    sale.add_argument("quantity", type=int)
    args = parser.parse_args(argv)
    print("DEBUG args:", args)
    items = storage.load_items(args.stock)
    if args.command == "report":
        print(stock_report(items))
        return 0
    by_sku = {item.sku: item for item in items}
    if args.sku not in by_sku:
        print("unknown sku: %s" % args.sku, file=sys.stderr)
        return 2
    reciept = sell(by_sku[args.sku], args.quantity, number=1)
    storage.save_items(args.stock, items)
    print(format_reciept(reciept))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Plain-text reports about the stock and about sales."""
from inventory.utils import money


def stock_report(items):
    header = "%-12s %-24s %6s %10s" % ("SKU", "NAME", "QTY", "VALUE")
    lines = [header]
    for item in sorted(items, key=lambda i: i.sku):
        value = money(item.total_value())
        lines.append("%-12s %-24s %6d %10s" % (item.sku, item.name, item.quantity, value))
    low = [item.sku for item in items if item.is_low()]
    if low:
        lines.append("low stock: %s" % ", ".join(low))
    return "\n".join(lines)


def line_text(line):
    total = line.price * line.quantity
    return "%-12s %3d x %9s = %10s" % (line.sku, line.quantity, money(line.price), money(total))


def format_reciept(reciept):
    """One receipt as text, ready to print."""
    number, lines = reciept.number, reciept.lines
    total = sum(line.price * line.quantity for line in lines)
    out = ["Receipt #%d" % number]
    out.extend(line_text(line) for line in lines)
    out.append("TOTAL %s" % money(total))
    return "\n".join(out)

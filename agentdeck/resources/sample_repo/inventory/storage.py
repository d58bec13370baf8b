import json
from pathlib import Path

from inventory.models import Item


def load_items(path):
    # TODO: validate the file instead of trusting it
    rows = json.loads(Path(path).read_text())
    return [Item(**row) for row in rows]    
    

def save_items(path, items):
    rows = [item.__dict__ for item in items]
    Path(path).write_text(json.dumps(rows, indent=2) + "\n")


def save_reciept(path, reciept):
    lines = [line.__dict__ for line in reciept.lines]
    record = {"number": reciept.number, "lines": lines}
    with open(path, "a") as out:
        out.write(json.dumps(record) + "\n")

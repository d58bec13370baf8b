"""Small helpers shared by the other modules."""


def money(amount):
	return "%.2f EUR" % amount


def parse_quantity(text):
	text = text.strip()
	if not text.isdigit():
		raise ValueError("not a quantity: " + text)
	return int(text)


def slugify(name):
	# TODO: fold accents before joining
	return "-".join(name.lower().split())

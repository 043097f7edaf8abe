"""Validates recorded events and batch bodies against docs/events.schema.json.

    python3 check_schema.py SCHEMA [--events FILE]... [--batches FILE]... [--min N]

Each FILE holds one JSON document per line (events: the fixture's --record or a
file sink; batches: the fixture's --batches-record). Exits 1 listing every
invalid document; --min N fails when fewer than N documents were checked, so
an empty recording cannot pass by accident.
"""
import json
import sys

from jsonschema import Draft202012Validator


def main(argv):
    schema = json.load(open(argv[1]))
    Draft202012Validator.check_schema(schema)
    defs = schema["$defs"]
    validators = {
        "--events": Draft202012Validator({"$ref": "#/$defs/event", "$defs": defs}),
        "--batches": Draft202012Validator({"$ref": "#/$defs/batch", "$defs": defs}),
    }
    root = Draft202012Validator(schema)
    minimum, checked, errors = 0, 0, []
    args = argv[2:]
    for flag, value in zip(args[::2], args[1::2]):
        if flag == "--min":
            minimum = int(value)
            continue
        v = validators[flag]
        for n, line in enumerate(open(value), 1):
            if not line.strip():
                continue
            doc = json.loads(line)
            checked += 1
            for e in v.iter_errors(doc):
                errors.append(f"{value}:{n}: {'/'.join(map(str, e.absolute_path))}: {e.message[:300]}")
            # the root schema takes either kind of document
            if not root.is_valid(doc):
                errors.append(f"{value}:{n}: not valid against the root schema")
    if checked < minimum:
        errors.append(f"only {checked} documents checked, expected at least {minimum}")
    if errors:
        print("\n".join(errors[:40]))
        return 1
    print(f"schema ok: {checked} documents")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

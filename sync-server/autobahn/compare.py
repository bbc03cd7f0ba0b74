"""Compares an Autobahn fuzzingclient report with the committed expected results.

Usage (run.sh calls it; runs under Python 2.7 or 3):
  compare.py INDEX_JSON EXPECTED_JSON [--update] [--only-run]

INDEX_JSON is the report's index.json ({agent: {case: {"behavior", "behaviorClose", ...}}}).
EXPECTED_JSON maps each case id to {"behavior", "behaviorClose", "closeCode"} (closeCode: the
code of the server's close frame, null for none). Exits 1 and prints every case where any of
the three differs, and every case missing on either side
(with --only-run, cases expected but not run are not reported: a partial run). --update rewrites
EXPECTED_JSON from the report instead. Always prints a summary table per section (markdown).
"""
from __future__ import print_function

import json
import sys

BEHAVIORS = ["OK", "NON-STRICT", "INFORMATIONAL", "UNIMPLEMENTED", "FAILED"]


def case_key(case):
    return tuple(int(part) for part in case.split("."))


def load_report(path):
    with open(path) as f:
        index = json.load(f)
    if len(index) != 1:
        sys.exit("compare.py: expected one agent in %s, found %d" % (path, len(index)))
    cases = list(index.values())[0]
    return dict(
        (case, {"behavior": r["behavior"], "behaviorClose": r["behaviorClose"],
                "closeCode": r["remoteCloseCode"]})
        for case, r in cases.items()
    )


def describe(r):
    return "%s/%s close %s" % (r["behavior"], r["behaviorClose"], r["closeCode"])


def summary(results):
    sections = {}
    for case, r in results.items():
        counts = sections.setdefault(case.split(".")[0], dict((b, 0) for b in BEHAVIORS))
        counts[r["behavior"]] = counts.get(r["behavior"], 0) + 1
    lines = ["| Section | Cases | " + " | ".join(BEHAVIORS) + " |",
             "|---" * (len(BEHAVIORS) + 2) + "|"]
    total = dict((b, 0) for b in BEHAVIORS)
    for section in sorted(sections, key=int):
        counts = sections[section]
        for b in BEHAVIORS:
            total[b] += counts.get(b, 0)
        lines.append("| %s | %d | %s |" % (
            section, sum(counts.values()), " | ".join(str(counts.get(b, 0)) for b in BEHAVIORS)))
    lines.append("| **all** | **%d** | %s |" % (
        sum(total.values()), " | ".join("**%d**" % total[b] for b in BEHAVIORS)))
    return "\n".join(lines)


def main(argv):
    args = [a for a in argv if not a.startswith("--")]
    if len(args) != 2:
        sys.exit(__doc__)
    report = load_report(args[0])
    print(summary(report))
    if "--update" in argv:
        with open(args[1], "w") as f:
            f.write("{\n")
            rows = sorted(report, key=case_key)
            for i, case in enumerate(rows):
                r = report[case]
                f.write('  "%s": {"behavior": "%s", "behaviorClose": "%s", "closeCode": %s}%s\n' % (
                    case, r["behavior"], r["behaviorClose"], json.dumps(r["closeCode"]),
                    "," if i + 1 < len(rows) else ""))
            f.write("}\n")
        print("wrote %d cases to %s" % (len(report), args[1]))
        return 0
    with open(args[1]) as f:
        expected = json.load(f)
    differences = []
    for case in sorted(set(report) | set(expected), key=case_key):
        got, want = report.get(case), expected.get(case)
        if got is None:
            if "--only-run" not in argv:
                differences.append("%-10s expected %s, not run" % (case, describe(want)))
        elif want is None:
            differences.append("%-10s got %s, not in the expected results" % (
                case, describe(got)))
        elif got != want:
            differences.append("%-10s expected %s, got %s" % (
                case, describe(want), describe(got)))
    if differences:
        print("%d cases differ from %s:" % (len(differences), args[1]))
        for line in differences:
            print("  " + line)
        return 1
    print("all %d cases as expected" % len(report))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

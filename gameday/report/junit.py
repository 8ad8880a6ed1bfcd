"""junit.xml: one test case per objective, so any CI shows them natively.

A violated objective is a <failure> carrying target and measured value; an
informational one (judged but not deciding the verdict) never fails; when the
data is incomplete or invalid, a "run data" case carries an <error>.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from gameday.report.summary import Summary
from gameday.slo.verdict import ObjectiveResult


def _measured(result: ObjectiveResult) -> str:
    if result.measured is None:
        return "not measured"
    return f"{result.measured:g} {result.unit}"


def render_junit(summary: Summary) -> str:
    suite = ET.Element(
        "testsuite",
        name=f"gameday {summary.run_id}",
        tests=str(len(summary.objectives) + 1),
        failures=str(len(summary.violated())),
        errors="1" if summary.reasons else "0",
        skipped="0",
    )
    data = ET.SubElement(suite, "testcase", classname="gameday.run", name="run data")
    if summary.reasons:
        error = ET.SubElement(
            data, "error", message="; ".join(summary.reasons), type="IncompleteOrInvalidRun"
        )
        error.text = "\n".join(summary.reasons)
    for result in summary.objectives:
        case = ET.SubElement(
            suite,
            "testcase",
            classname=f"gameday.slo.{result.scope}",
            name=result.name,
        )
        text = (
            f"{result.name}: measured {_measured(result)}, "
            f"target {result.comparator} {result.target:g} {result.unit}"
        )
        if result.note:
            text += f" ({result.note})"
        if not result.passed and result.gating:
            failure = ET.SubElement(case, "failure", message=text, type="ObjectiveViolated")
            failure.text = text
        else:
            out = ET.SubElement(case, "system-out")
            out.text = text if result.gating else f"informational: {text}"
    suites = ET.Element("testsuites", name="gameday")
    suites.append(suite)
    ET.indent(suites)
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
    )
